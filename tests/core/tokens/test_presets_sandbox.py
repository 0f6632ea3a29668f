"""Every preset obtains a token from the vendor sandbox, speaking the vendor's dialect."""

from __future__ import annotations

import time

import pytest

from vendorgate import ConfigurationError, KeyFormatError, TokenRequestError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import Token, TokenConfig, TokenFetcher, TokenProvider

pytestmark = pytest.mark.slow


def _config(sandbox, preset: str, **kw: object) -> TokenConfig:
    demo = sandbox.demo_credentials(preset)
    values: dict[str, object] = {
        "client_id": demo["client_id"],
        "token_url": sandbox.token_url(preset),
        "client_secret": f"literal:{demo['client_secret'].reveal()}",
    }
    if demo.get("tenant"):
        values["tenant"] = demo["tenant"]
    if preset == "wokelo":
        values["username"] = f"literal:{demo['username']}"
        values["password"] = f"literal:{demo['password'].reveal()}"
    values.update(kw)
    return TokenConfig(dialect=get_dialect(preset), **values)


@pytest.mark.parametrize(
    ("preset", "lifetime"),
    [
        ("techwolf-eu", 10800),
        ("techwolf-us", 10800),
        ("lonewolf", 86400),
        ("tci-atm", 600),
        ("oauth2-basic", 3600),
        ("oauth2-post", 3600),
        ("wokelo", 2628288),
    ],
)
def test_preset_gets_a_token_with_the_documented_lifetime(
    sandbox, preset: str, lifetime: int
) -> None:
    """Each client-secret or password preset gets a token living as long as its document says."""
    token = TokenFetcher(_config(sandbox, preset)).fetch()
    assert token.access_token
    assert token.lifetime_s == pytest.approx(lifetime, abs=2)


@pytest.mark.parametrize("preset", ["techwolf-eu", "techwolf-us", "oauth2-private-key-jwt"])
def test_private_key_jwt_with_a_pem_key(sandbox, preset: str, monkeypatch) -> None:
    """A private_key_jwt assertion signed with a PEM key is accepted by the vendor."""
    monkeypatch.setenv("DEMO_JWT_KEY", sandbox.demo_private_key_pem.reveal())
    cfg = _config(
        sandbox,
        preset,
        client_id="demo-jwt-client",
        client_secret=None,
        private_key="env:DEMO_JWT_KEY",
    )
    assert cfg.effective_client_auth == "assertion"
    token = TokenFetcher(cfg).fetch()
    assert token.access_token


def test_private_key_jwt_jti_never_repeats(sandbox, monkeypatch) -> None:
    """Back-to-back fetches use fresh assertions (the sandbox refuses a reused jti)."""
    monkeypatch.setenv("DEMO_JWT_KEY", sandbox.demo_private_key_pem.reveal())
    cfg = _config(
        sandbox,
        "techwolf-eu",
        client_id="demo-jwt-client",
        client_secret=None,
        private_key="env:DEMO_JWT_KEY",
    )
    f = TokenFetcher(cfg)
    assert f.fetch().access_token != f.fetch().access_token


def test_techwolf_scopes_array_is_granted(sandbox) -> None:
    """Requested TechWolf scopes come back as the space-separated granted scope."""
    token = TokenFetcher(_config(sandbox, "techwolf-eu", scopes=("read", "write"))).fetch()
    assert token.scope == "read write"


def test_lonewolf_lwt_client_id_is_accepted(sandbox) -> None:
    """Lone Wolf accepts the optional lwt_client_id."""
    cfg = _config(sandbox, "lonewolf", extra_params={"lwt_client_id": "customer-42"})
    assert TokenFetcher(cfg).fetch().access_token


def test_wrong_secret_is_401_with_hint_and_no_secret(sandbox) -> None:
    """A wrong client secret fails with 401, the vendor, a hint, and no secret in the text."""
    cfg = _config(sandbox, "oauth2-basic", client_secret="literal:wrong-secret-123")
    with pytest.raises(TokenRequestError) as info:
        TokenFetcher(cfg).fetch()
    assert info.value.status == 401
    assert "client id and client secret" in str(info.value)
    assert "wrong-secret-123" not in str(info.value)


def test_tci_refresh_grant_is_used_and_accepted(sandbox) -> None:
    """TCI's refresh grant gets a new access token with the refresh and id tokens."""
    f = TokenFetcher(_config(sandbox, "tci-atm"))
    first = f.fetch()
    assert first.refresh_token
    assert first.id_token
    before = sandbox.counters()
    second = f.fetch(first)
    assert second.access_token != first.access_token
    assert second.refresh_token == first.refresh_token
    after = sandbox.counters()
    # exactly one token request, and it was the refresh grant
    assert after.tokens(vendor="tci") - before.tokens(vendor="tci") == 1
    refreshes = after.tokens(vendor="tci", grant="refresh_token")
    assert refreshes - before.tokens(vendor="tci", grant="refresh_token") == 1


def test_wokelo_refresh_token_rotates(sandbox) -> None:
    """Wokelo's refresh grant returns a new refresh token, and a used one falls back to login."""
    f = TokenFetcher(_config(sandbox, "wokelo"))
    first = f.fetch()
    second = f.fetch(first)
    assert second.refresh_token
    assert second.refresh_token != first.refresh_token
    counts = sandbox.counters()
    assert counts.tokens(vendor="wokelo", grant="password") == 1
    assert counts.tokens(vendor="wokelo", grant="refresh_token") == 1
    # first.refresh_token is now used: the sandbox refuses it, so the password grant runs.
    third = f.fetch(first)
    assert third.access_token not in (first.access_token, second.access_token)
    counts = sandbox.counters()
    assert counts.tokens(vendor="wokelo", grant="refresh_token") == 2
    assert counts.tokens(vendor="wokelo", grant="password") == 2


def test_expired_previous_token_without_refresh_uses_primary_grant(sandbox) -> None:
    """A previous token without a refresh token leads to a normal token request."""
    f = TokenFetcher(_config(sandbox, "tci-atm"))
    prev = Token("x", expires_at=time.time() - 1, issued_at=time.time() - 700)
    assert f.fetch(prev).refresh_token


def test_provider_caches_the_token(sandbox) -> None:
    """The provider asks the vendor once and reuses the token."""
    from vendorgate.cache import TokenCache

    provider = TokenProvider(
        _config(sandbox, "lonewolf", client_id="demo-client"), cache=TokenCache()
    )
    a, b = provider.get_token(), provider.get_token()
    assert a == b
    assert provider.vendor == "lonewolf"
    assert provider.invalid_token_statuses == frozenset({401, 403})


def test_provider_invalidate_fetches_a_new_token(sandbox) -> None:
    """After invalidation (the API said 401/403), the next call gets a new token."""
    from vendorgate.cache import TokenCache

    provider = TokenProvider(_config(sandbox, "oauth2-post"), cache=TokenCache())
    a = provider.get_token()
    assert provider.invalidate(a)
    assert provider.get_token().access_token != a.access_token


@pytest.mark.anyio
async def test_provider_async(sandbox) -> None:
    """The async provider path returns and caches a token."""
    from vendorgate.cache import TokenCache

    provider = TokenProvider(_config(sandbox, "techwolf-us"), cache=TokenCache())
    a = await provider.aget_token()
    assert (await provider.aget_token()) == a
    assert await provider.ainvalidate(a)


def test_provider_satisfies_token_source(sandbox) -> None:
    """The provider plugs into the HTTP client as a TokenSource."""
    from vendorgate.tokens import TokenSource

    assert isinstance(TokenProvider(_config(sandbox, "lonewolf")), TokenSource)


def test_malformed_pem_is_a_key_format_error(sandbox) -> None:
    """A PEM reference holding garbage fails with KeyFormatError naming no key material."""
    cfg = _config(
        sandbox,
        "techwolf-eu",
        client_id="demo-jwt-client",
        client_secret=None,
        private_key="literal:-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----",
    )
    with pytest.raises(KeyFormatError) as info:
        TokenFetcher(cfg).fetch()
    assert "not-a-key" not in str(info.value)


def test_wrong_type_pem_is_a_key_format_error(sandbox, monkeypatch) -> None:
    """An EC key used with RS256 fails with KeyFormatError."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
        .decode()
    )
    monkeypatch.setenv("EC_KEY", pem)
    cfg = _config(
        sandbox,
        "techwolf-eu",
        client_id="demo-jwt-client",
        client_secret=None,
        private_key="env:EC_KEY",
    )
    with pytest.raises(KeyFormatError, match="RS256"):
        TokenFetcher(cfg).fetch()


def test_missing_env_secret_is_named(sandbox, monkeypatch) -> None:
    """An unset environment variable reference names the variable and the field."""
    from vendorgate import SecretNotFoundError

    monkeypatch.delenv("NOPE_SECRET", raising=False)
    with pytest.raises(SecretNotFoundError, match="NOPE_SECRET"):
        TokenFetcher(_config(sandbox, "lonewolf", client_secret="env:NOPE_SECRET")).fetch()


def test_config_error_for_unknown_client_auth(sandbox) -> None:
    """Lone Wolf does not do private_key_jwt, and the config says so."""
    with pytest.raises(ConfigurationError) as info:
        _config(sandbox, "lonewolf", client_auth="assertion", private_key="env:X")
    assert info.value.field == "client_auth"
