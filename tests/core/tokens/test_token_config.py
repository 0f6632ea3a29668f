"""TokenConfig: validation with field names, cache keys, plain mapping round trips."""

from __future__ import annotations

import json

import pytest

from vendorgate import ConfigurationError, SecretReferenceError, UnknownPresetError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig

BASE = {"preset": "lonewolf", "client_id": "me", "client_secret": "env:LW_SECRET"}


def test_unknown_preset_lists_the_valid_ones() -> None:
    """A config naming an unknown preset fails listing the valid presets."""
    with pytest.raises(UnknownPresetError, match="lonewolf"):
        TokenConfig.from_mapping({**BASE, "preset": "lone-wolf"})


def test_malformed_secret_reference_names_the_field_not_the_value() -> None:
    """A secret pasted instead of a reference is refused without echoing it."""
    with pytest.raises(SecretReferenceError) as info:
        TokenConfig.from_mapping({**BASE, "client_secret": "s3cr3t-value-pasted"})
    assert info.value.field == "client_secret"
    assert "s3cr3t-value-pasted" not in str(info.value)


def test_missing_client_secret_is_named() -> None:
    """Client-secret dialects need a client_secret reference."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping({"preset": "lonewolf", "client_id": "me"})
    assert info.value.field == "client_secret"


def test_private_key_jwt_needs_a_key() -> None:
    """oauth2-private-key-jwt without a private key or Transit key names private_key."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping(
            {"preset": "oauth2-private-key-jwt", "client_id": "me", "token_url": "https://x/t"}
        )
    assert info.value.field == "private_key"


def test_private_key_and_transit_key_are_exclusive() -> None:
    """Giving both a PEM reference and a Transit key is refused."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig(
            dialect=get_dialect("techwolf-eu"),
            client_id="me",
            private_key="file:/k.pem",
            transit_key="transit/techwolf",
        )
    assert info.value.field == "private_key"


def test_a_key_switches_techwolf_to_private_key_jwt() -> None:
    """Giving TechWolf a private key selects private_key_jwt client authentication."""
    cfg = TokenConfig(
        dialect=get_dialect("techwolf-eu"), client_id="me", transit_key="transit/tw", tenant="t"
    )
    assert cfg.effective_client_auth == "assertion"


def test_unsupported_client_auth_is_named() -> None:
    """A client authentication the vendor does not accept is refused."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping({**BASE, "client_auth": "basic"})
    assert info.value.field == "client_auth"


def test_password_grant_needs_username_and_password() -> None:
    """Wokelo's password grant requires username and password references."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping(
            {"preset": "wokelo", "client_id": "me", "client_secret": "env:W", "username": "env:U"}
        )
    assert info.value.field == "password"


def test_generic_preset_needs_a_token_url() -> None:
    """The generic OAuth 2.0 presets have no default URL, and say so."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping(
            {"preset": "oauth2-basic", "client_id": "me", "client_secret": "env:S"}
        )
    assert info.value.field == "token_url"


def test_unknown_config_key_is_named() -> None:
    """A typo in a configuration key is reported with the key."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping({**BASE, "client_secrets": "env:X"})
    assert info.value.field == "client_secrets"


def test_cache_key_ignores_secrets() -> None:
    """Rotating the client secret keeps the cache key (it is never derived from a secret)."""
    a = TokenConfig.from_mapping({**BASE, "client_secret": "literal:s3cr3t-one"})
    b = TokenConfig.from_mapping({**BASE, "client_secret": "literal:s3cr3t-two"})
    assert a.cache_key == b.cache_key
    assert "s3cr3t" not in a.cache_key


def test_cache_key_is_order_insensitive_for_scopes() -> None:
    """The same scopes in another order share one cached token."""
    base = {"preset": "techwolf-eu", "client_id": "me", "client_secret": "env:S", "tenant": "t"}
    a = TokenConfig.from_mapping({**base, "scopes": ["read", "write"]})
    b = TokenConfig.from_mapping({**base, "scopes": "write read"})
    assert a.cache_key == b.cache_key


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "other"},
        {"tenant": "t2"},
        {"audience": "a2"},
        {"scopes": ["read"]},
        {"extra_params": {"lwt_client_id": "42"}},
        {"token_url": "https://other/token"},
    ],
)
def test_cache_key_changes_with_identity(change: dict[str, object]) -> None:
    """Different client ids, tenants, audiences, scopes or URLs never share a token."""
    a = TokenConfig.from_mapping(BASE)
    assert TokenConfig.from_mapping({**BASE, **change}).cache_key != a.cache_key


def test_cache_key_is_stable_across_processes() -> None:
    """The cache key is the same in another Python process (no hash randomisation)."""
    import subprocess
    import sys

    code = (
        "from vendorgate.tokens import TokenConfig;"
        "print(TokenConfig.from_mapping({'preset': 'lonewolf', 'client_id': 'me',"
        " 'client_secret': 'env:LW_SECRET'}).cache_key)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == TokenConfig.from_mapping(BASE).cache_key


def test_to_mapping_round_trips_through_json() -> None:
    """A trigger rebuilds the same config from plain JSON (secrets only as references)."""
    cfg = TokenConfig.from_mapping(
        {
            "preset": "techwolf-us",
            "client_id": "me",
            "transit_key": "transit/techwolf",
            "tenant": "acme",
            "scopes": ["read"],
            "vault": {
                "url": "http://127.0.0.1:8200",
                "auth_method": "token",
                "token_ref": "env:VT",
            },
        }
    )
    data = json.loads(json.dumps(cfg.to_mapping()))
    assert data["preset"] == "techwolf-us"
    assert TokenConfig.from_mapping(data) == cfg


def test_to_mapping_of_a_custom_dialect_round_trips() -> None:
    """A modified preset is serialised in full and rebuilt equal."""
    cfg = TokenConfig.from_mapping({**BASE, "dialect": {"lifetime_field": "ttl"}})
    assert cfg.dialect.name == "lonewolf"
    assert cfg.dialect.lifetime_field == "ttl"
    data = json.loads(json.dumps(cfg.to_mapping()))
    assert "dialect" in data
    assert TokenConfig.from_mapping(data) == cfg


def test_from_toml() -> None:
    """A token configuration can live in a TOML file, including dialect overrides."""
    cfg = TokenConfig.from_toml(
        """
        [vendor]
        preset = "lonewolf"
        client_id = "me"
        client_secret = "vault:secret/lonewolf#client_secret"
        extra_params = { lwt_client_id = "customer-42" }
        """,
        table="vendor",
    )
    assert dict(cfg.extra_params) == {"lwt_client_id": "customer-42"}


def test_assertion_lifetime_bounds() -> None:
    """Client assertion lifetimes outside 1 to 10 minutes are refused."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig(
            dialect=get_dialect("techwolf-eu"),
            client_id="me",
            transit_key="transit/t",
            assertion_lifetime_s=3600,
        )
    assert info.value.field == "assertion_lifetime_s"


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS384", "PS512", "ES384", "HS256"])
def test_signing_alg_the_signers_cannot_use_is_refused(alg: str) -> None:
    """A signing algorithm no signer supports fails at construction, naming signing_alg."""
    with pytest.raises(ConfigurationError, match=r"^signing_alg: .*RS256, PS256, ES256") as info:
        TokenConfig.from_mapping(
            {**BASE, "preset": "techwolf-eu", "private_key": "env:K", "signing_alg": alg}
        )
    assert info.value.field == "signing_alg"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_every_signer_algorithm_is_accepted(alg: str) -> None:
    """Every algorithm the signers support is a valid signing_alg."""
    cfg = TokenConfig.from_mapping(
        {**BASE, "preset": "techwolf-eu", "private_key": "env:K", "signing_alg": alg, "tenant": "t"}
    )
    assert cfg.signing_alg == alg


def test_repr_masks_literal_secrets() -> None:
    """A literal secret (tests, examples) never shows in the config's repr."""
    cfg = TokenConfig.from_mapping({**BASE, "client_secret": "literal:s3cr3t-value"})
    assert "s3cr3t-value" not in repr(cfg)
    assert "client_id='me'" in repr(cfg)


def test_importing_the_token_engine_is_cheap() -> None:
    """Building a config (as a DAG file does at parse time) imports no HTTP or crypto stack."""
    import subprocess
    import sys

    code = (
        "import sys; from vendorgate.tokens import TokenConfig, TokenProvider;"
        "TokenConfig.from_mapping({'preset': 'tci-atm', 'client_id': 'me',"
        " 'client_secret': 'vault:secret/tci#client_secret'});"
        "heavy = {'httpx', 'hvac', 'jwt', 'cryptography', 'tenacity'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bare_transit_key_name_is_accepted() -> None:
    """transit_key="mykey" is accepted, as the Transit signer reads it (mount "transit")."""
    cfg = TokenConfig(
        dialect=get_dialect("techwolf-eu"), client_id="me", transit_key="mykey", tenant="t"
    )
    assert cfg.transit_key == "mykey"


@pytest.mark.parametrize("key", ["", "transit/", "/", 42])
def test_transit_key_without_a_name_is_refused(key: object) -> None:
    """A Transit key without a key name is refused, naming transit_key."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig(dialect=get_dialect("techwolf-eu"), client_id="me", transit_key=key)  # type: ignore[arg-type]
    assert info.value.field == "transit_key"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout_s", float("nan")),
        ("timeout_s", float("inf")),
        ("timeout_s", True),
        ("default_lifetime_s", float("nan")),
        ("default_lifetime_s", float("inf")),
        ("assertion_lifetime_s", float("nan")),
    ],
)
def test_seconds_that_are_not_finite_are_refused(field: str, value: object) -> None:
    """NaN, infinity and booleans are refused as seconds, naming the field."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping({**BASE, field: value})
    assert info.value.field == field


# -- a preset's required fields ----------------------------------------------------------

TW_SECRET = "tw-s3cr3t-value-8812"


@pytest.mark.parametrize("preset", ["techwolf-eu", "techwolf-us"])
def test_techwolf_without_a_tenant_is_refused_at_construction(preset: str) -> None:
    """A TechWolf config without a tenant fails when built, naming tenant and the preset."""
    from vendorgate import Secret

    with pytest.raises(ConfigurationError) as info:
        TokenConfig(dialect=get_dialect(preset), client_id="me", client_secret=Secret(TW_SECRET))
    assert info.value.field == "tenant"
    message = str(info.value)
    assert message.startswith(f"tenant: is required by preset {preset!r}")
    assert "set it to" in message  # says what to do
    assert TW_SECRET not in message


@pytest.mark.parametrize("tenant", ["", "   "])
def test_an_empty_tenant_counts_as_missing(tenant: str) -> None:
    """An empty tenant (an unfilled form field) is refused like a missing one."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping(
            {"preset": "techwolf-eu", "client_id": "me", "client_secret": "env:S", "tenant": tenant}
        )
    assert info.value.field == "tenant"


def test_techwolf_with_a_tenant_is_accepted() -> None:
    """The required tenant given, the config builds (and keeps it)."""
    cfg = TokenConfig(
        dialect=get_dialect("techwolf-eu"), client_id="me", client_secret="env:S", tenant="acme"
    )
    assert cfg.tenant == "acme"


def test_dropping_the_tenant_with_overrides_is_refused() -> None:
    """with_overrides validates again: removing a required field is an error, not a copy."""
    cfg = TokenConfig(
        dialect=get_dialect("techwolf-eu"), client_id="me", client_secret="env:S", tenant="acme"
    )
    with pytest.raises(ConfigurationError) as info:
        cfg.with_overrides(tenant=None)
    assert info.value.field == "tenant"


def test_a_custom_dialects_required_field_is_enforced() -> None:
    """Any dialect's required_fields are enforced, here an audience for an in-house server."""
    from vendorgate.dialects import Dialect

    acme = Dialect(
        name="acme", token_url="https://id.acme.test/token", required_fields=("audience",)
    )
    with pytest.raises(ConfigurationError) as info:
        TokenConfig(dialect=acme, client_id="me", client_secret="env:S")
    assert info.value.field == "audience"
    assert "preset 'acme'" in str(info.value)
    cfg = TokenConfig(dialect=acme, client_id="me", client_secret="env:S", audience="api")
    assert cfg.effective_audience == "api"


def test_a_required_field_the_dialect_itself_supplies_is_met() -> None:
    """A required audience the dialect already sends by default needs no repeating."""
    from vendorgate.dialects import Dialect

    acme = Dialect(
        name="acme",
        token_url="https://id.acme.test/token",
        audience="api",
        required_fields=("audience",),
    )
    assert TokenConfig(dialect=acme, client_id="me", client_secret="env:S").audience is None


def test_a_required_field_that_is_no_token_setting_is_named() -> None:
    """A misspelt required field of a dialect table is reported, not demanded forever."""
    with pytest.raises(ConfigurationError) as info:
        TokenConfig.from_mapping(
            {
                "dialect": {"base": "lonewolf", "required_fields": ["tennant"]},
                "client_id": "me",
                "client_secret": "env:S",
            }
        )
    assert info.value.field == "dialect.required_fields"
    assert "'tennant'" in str(info.value)
    assert "tenant" in str(info.value).split("'tennant'", 1)[1]  # lists the valid names
