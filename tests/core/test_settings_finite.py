"""Settings of NaN or infinity are refused at construction, from Python, TOML and mappings."""

from __future__ import annotations

import math

import pytest

try:
    import tomllib  # type: ignore[import-not-found,unused-ignore]
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

from vendorgate import ConfigurationError, VendorConnection
from vendorgate.cache import CacheTiming
from vendorgate.dialects import Dialect, get_dialect
from vendorgate.http import RetryPolicy
from vendorgate.tokens import TokenConfig

BAD = [math.nan, math.inf, -math.inf]


def _token(**kw: object) -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("oauth2-post"),
        client_id="me",
        client_secret="env:X",
        token_url="https://id.example.com/oauth/token",
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("name", ["timeout_s", "default_lifetime_s"])
def test_token_config_refuses_non_finite(name: str, value: float) -> None:
    """TokenConfig(timeout_s=nan/inf, default_lifetime_s=nan/inf) names the field."""
    with pytest.raises(ConfigurationError) as info:
        _token(**{name: value})
    assert info.value.field == name


@pytest.mark.parametrize("value", BAD)
def test_connection_timeout_refuses_non_finite(value: float) -> None:
    """VendorConnection(timeout_s=nan/inf) is refused, naming timeout_s."""
    with pytest.raises(ConfigurationError) as info:
        VendorConnection(token=_token(), timeout_s=value)
    assert info.value.field == "timeout_s"


@pytest.mark.parametrize("literal", ["nan", "inf", "+inf", "-inf"])
@pytest.mark.parametrize("where", ["", "token.", "retry."])
def test_toml_non_finite_timeout_is_refused(literal: str, where: str) -> None:
    """A TOML spec with timeout_s = nan / inf (top, token or retry table) is refused."""
    spec = f"""
timeout_s = {literal if not where else 30}
[token]
preset = "oauth2-post"
client_id = "me"
client_secret = "env:X"
token_url = "https://id.example.com/oauth/token"
{"timeout_s = " + literal if where == "token." else ""}
[retry]
{"timeout_s = " + literal if where == "retry." else "attempts = 2"}
"""
    with pytest.raises(ConfigurationError) as info:
        VendorConnection.from_mapping(tomllib.loads(spec))
    assert (info.value.field or "").endswith("timeout_s")


@pytest.mark.parametrize("value", BAD)
def test_dialect_mapping_refuses_non_finite_lifetime(value: float) -> None:
    """A dialect table with default_lifetime_s = nan/inf is refused, naming the field."""
    with pytest.raises(ConfigurationError) as info:
        Dialect.from_mapping({"base": "oauth2-post", "name": "x", "default_lifetime_s": value})
    assert "default_lifetime_s" in (info.value.field or "")


@pytest.mark.parametrize("value", BAD)
def test_retry_policy_refuses_non_finite(value: float) -> None:
    """RetryPolicy(timeout_s=nan/inf) is refused."""
    with pytest.raises(ConfigurationError):
        RetryPolicy(timeout_s=value)


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("name", ["lock_ttl_s", "lock_wait_s", "backend_retry_s"])
def test_cache_timing_refuses_non_finite(name: str, value: float) -> None:
    """CacheTiming(lock_wait_s=nan/inf ...) is refused, naming the field."""
    with pytest.raises(ConfigurationError) as info:
        CacheTiming(**{name: value})
    assert info.value.field == name


def test_cache_lock_wait_outlasts_the_longest_token_fetch() -> None:
    """The default lock wait is above the longest token fetch (budget plus JWKS check)."""
    from vendorgate.tokens._fetcher import JWKS_TIMEOUT_CAP_S, TOKEN_RETRY_POLICY

    longest = TOKEN_RETRY_POLICY.timeout_s + JWKS_TIMEOUT_CAP_S
    assert CacheTiming().lock_wait_s > longest
