"""The declarative dialect model: validation, overrides, mapping round trips."""

from __future__ import annotations

import pytest

from vendorgate import ConfigurationError, UnknownPresetError
from vendorgate.dialects import Dialect, RefreshGrant, get_dialect


def test_bad_encoding_names_the_field() -> None:
    """A typo in a dialect's encoding is reported with the field and the valid choices."""
    with pytest.raises(ConfigurationError, match="encoding") as info:
        Dialect(name="x", encoding="xml")  # type: ignore[arg-type]
    assert info.value.field == "encoding"
    assert "multipart" in str(info.value)


def test_invalid_token_statuses_must_be_http_errors() -> None:
    """A status list such as [200] is refused, naming invalid_token_statuses."""
    with pytest.raises(ConfigurationError) as info:
        Dialect(name="x", invalid_token_statuses=frozenset({200}))
    assert info.value.field == "invalid_token_statuses"


def test_keeping_refresh_tokens_needs_a_refresh_grant() -> None:
    """A dialect that keeps refresh tokens must say how the refresh request looks."""
    with pytest.raises(ConfigurationError) as info:
        Dialect(name="x", keeps_refresh_token=True)
    assert info.value.field == "refresh"


def test_from_mapping_overrides_a_base_preset() -> None:
    """A user derives a dialect from a preset by overriding a few fields."""
    d = Dialect.from_mapping(
        {
            "base": "oauth2-post",
            "name": "acme",
            "encoding": "json",
            "scope_format": "array",
            "scope_field": "scopes",
        }
    )
    assert (d.name, d.encoding, d.scope_field) == ("acme", "json", "scopes")
    assert d.client_auth == get_dialect("oauth2-post").client_auth


def test_from_mapping_unknown_key_is_named() -> None:
    """An unknown override key is a ConfigurationError naming that key."""
    with pytest.raises(ConfigurationError) as info:
        Dialect.from_mapping({"base": "lonewolf", "grant_typo": "x"})
    assert info.value.field == "grant_typo"
    assert "grant_type" in str(info.value)


def test_from_mapping_unknown_base_lists_presets() -> None:
    """An unknown base preset lists the valid preset names."""
    with pytest.raises(UnknownPresetError, match="techwolf-eu"):
        Dialect.from_mapping({"base": "techwolf"})


def test_from_mapping_without_base_needs_a_name() -> None:
    """A dialect written from scratch must be named."""
    with pytest.raises(ConfigurationError) as info:
        Dialect.from_mapping({"encoding": "json"})
    assert info.value.field == "name"


def test_refresh_table_merges_over_the_base_refresh_grant() -> None:
    """Overriding one refresh field keeps the base preset's other refresh fields."""
    d = Dialect.from_mapping({"base": "tci-atm", "refresh": {"id_token_field": "idToken"}})
    assert d.refresh is not None
    assert d.refresh.id_token_field == "idToken"
    assert d.refresh.grant_type_field == "grantType"


def test_refresh_unknown_key_is_named() -> None:
    """An unknown key inside the refresh table is named with its path."""
    with pytest.raises(ConfigurationError) as info:
        RefreshGrant.from_mapping({"grant": "x"})
    assert info.value.field == "refresh.grant"


@pytest.mark.parametrize("name", ["techwolf-eu", "lonewolf", "tci-atm", "oauth2-basic", "wokelo"])
def test_to_mapping_round_trips(name: str) -> None:
    """A dialect's plain mapping (for TOML/JSON) rebuilds an equal dialect."""
    d = get_dialect(name)
    assert Dialect.from_mapping(d.to_mapping()) == d


def test_whole_new_dialect_from_toml() -> None:
    """A user defines a new vendor dialect in TOML without writing code."""
    import tomllib

    text = """
    name = "acme"
    token_url = "https://id.acme.test/token"
    encoding = "json"
    client_id_field = "clientId"
    client_secret_field = "clientSecret"
    lifetime_field = "ttl"
    invalid_token_statuses = [401, 419]
    extra_params = { product = "data" }
    """
    d = Dialect.from_mapping(tomllib.loads(text))
    assert d.invalid_token_statuses == frozenset({401, 419})
    assert dict(d.extra_params) == {"product": "data"}
    assert d.lifetime_field == "ttl"
