"""A secret a framework already holds is usable as a value, and never written out."""

from __future__ import annotations

import pytest

from vendorgate import ConfigurationError, Secret, TokenConfig, VendorConnection, get_dialect


class FakeSecretStr:
    """Duck-typed like pydantic's SecretStr (the core never imports pydantic)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')"


def config(**kw: object) -> TokenConfig:
    return TokenConfig(get_dialect("lonewolf"), client_id="me", **kw)  # type: ignore[arg-type]


def test_secret_value_is_accepted_and_kept_as_a_secret() -> None:
    """client_secret=Secret(...) works without the literal: scheme."""
    cfg = config(client_secret=Secret("pa55-value"))
    assert isinstance(cfg.client_secret, Secret)
    assert cfg.client_secret.reveal() == "pa55-value"


def test_secretstr_like_value_becomes_a_secret() -> None:
    """Anything with get_secret_value() (a pydantic SecretStr) is turned into a Secret."""
    cfg = config(client_secret=FakeSecretStr("pa55-value"))
    assert isinstance(cfg.client_secret, Secret)
    assert cfg.client_secret.reveal() == "pa55-value"


def test_pydantic_secretstr_is_accepted() -> None:
    """A real pydantic SecretStr (Prefect block fields) is accepted."""
    pydantic = pytest.importorskip("pydantic")
    cfg = config(client_secret=pydantic.SecretStr("pa55-value"))
    assert isinstance(cfg.client_secret, Secret)


def test_to_mapping_of_a_secret_value_is_an_error_naming_the_field() -> None:
    """A secret value is never written out: to_mapping() raises instead of dropping it."""
    cfg = config(client_secret=Secret("pa55-value"))
    with pytest.raises(ConfigurationError) as info:
        cfg.to_mapping()
    assert info.value.field == "client_secret"
    assert "pa55-value" not in str(info.value)


def test_spec_to_mapping_names_the_token_field() -> None:
    """A connection spec holding a secret value names token.<field> in the error."""
    spec = VendorConnection(config(client_secret=Secret("pa55-value")))
    with pytest.raises(ConfigurationError) as info:
        spec.to_mapping()
    assert info.value.field == "token.client_secret"
    assert "pa55-value" not in str(info.value)


def test_repr_masks_secret_values() -> None:
    """repr of a config or spec with a secret value shows a mask."""
    cfg = config(client_secret=Secret("pa55-value"))
    assert "pa55-value" not in repr(cfg)
    assert "pa55-value" not in repr(VendorConnection(cfg))
    assert "**********" in repr(cfg)


def test_secret_references_leave_values_out() -> None:
    """doctor lists references; fields given as values are reported separately."""
    cfg = config(client_secret=Secret("pa55-value"))
    assert cfg.secret_references() == {}
    assert cfg.secret_values() == ("client_secret",)


def test_username_value_gives_a_distinct_cache_key() -> None:
    """Two users of one client never share a cached token, and the key hides the name."""
    d = get_dialect("wokelo")

    def wokelo(user: str) -> TokenConfig:
        return TokenConfig(
            d, client_id="c", client_secret="env:S", username=Secret(user), password="env:P"
        )

    assert wokelo("alice").cache_key == wokelo("alice").cache_key
    assert wokelo("alice").cache_key != wokelo("bob").cache_key
    assert "alice" not in wokelo("alice").cache_key


def test_non_string_non_secret_is_refused() -> None:
    """A number where a secret belongs is a ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError) as info:
        config(client_secret=12345)
    assert info.value.field == "client_secret"


@pytest.mark.slow
def test_secret_value_fetches_a_token_from_the_sandbox(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A provider built from a spec with a Secret value gets a real token."""
    from vendorgate.cache import TokenCache
    from vendorgate.tokens import TokenProvider

    demo = sandbox.demo_credentials("lonewolf")
    cfg = TokenConfig(
        get_dialect("lonewolf"),
        client_id=demo["client_id"],
        client_secret=demo["client_secret"],
        token_url=sandbox.token_url("lonewolf"),
    )
    assert isinstance(cfg.client_secret, Secret)
    token = TokenProvider(cfg, cache=TokenCache()).get_token()
    assert token.access_token
