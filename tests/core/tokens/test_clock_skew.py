"""Clock skew between this host and the vendor: tolerated on iat/nbf, named when too large."""

from __future__ import annotations

import pytest

from vendorgate import TokenRequestError, TokenValidationError
from vendorgate.cache import TokenCache
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher, TokenProvider

pytestmark = pytest.mark.slow


def _tci(sandbox) -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("tci-atm"),
        client_id="demo-client",
        client_secret="literal:" + sandbox.demo_credentials("tci")["client_secret"].reveal(),
        token_url=sandbox.token_url("tci"),
    )


def _tci_requests(sandbox) -> int:
    requests = sandbox.counters().token_requests
    return sum(n for (vendor, _, _), n in requests.items() if vendor == "tci")


def test_tci_token_from_a_vendor_one_minute_ahead_is_accepted(sandbox) -> None:
    """A worker whose clock is a minute behind the vendor's still gets valid TCI tokens."""
    sandbox.set_faults(clock_offset_s=60)
    token = TokenFetcher(_tci(sandbox)).fetch()
    assert token.access_token


def test_tci_token_from_a_vendor_far_ahead_is_refused_naming_the_clock(sandbox) -> None:
    """Skew beyond the leeway is refused with a message about the clocks."""
    sandbox.set_faults(clock_offset_s=3600)
    with pytest.raises(TokenValidationError, match="clock"):
        TokenFetcher(_tci(sandbox)).fetch()


def test_a_failed_validation_is_not_retried_on_every_call(sandbox) -> None:
    """After a validation failure the provider raises without asking the vendor again."""
    sandbox.set_faults(clock_offset_s=3600)
    now = [1000.0]
    provider = TokenProvider(_tci(sandbox), cache=TokenCache(), clock=lambda: now[0])
    before = _tci_requests(sandbox)
    for _ in range(3):
        with pytest.raises(TokenValidationError, match="clock"):
            provider.get_token()
    assert _tci_requests(sandbox) - before == 1


def test_validation_is_tried_again_after_the_back_off(sandbox) -> None:
    """Once the back-off has passed, the next call asks the vendor again."""
    sandbox.set_faults(clock_offset_s=3600)
    now = [1000.0]
    provider = TokenProvider(_tci(sandbox), cache=TokenCache(), clock=lambda: now[0])
    before = _tci_requests(sandbox)
    with pytest.raises(TokenValidationError):
        provider.get_token()
    now[0] += provider.validation_retry_s + 1
    sandbox.clear_faults()
    assert provider.get_token().access_token
    assert _tci_requests(sandbox) - before == 2


def _jwt_client(sandbox, monkeypatch) -> TokenConfig:
    monkeypatch.setenv("DEMO_JWT_KEY", sandbox.demo_private_key_pem.reveal())
    return TokenConfig(
        dialect=get_dialect("oauth2-private-key-jwt"),
        client_id="demo-jwt-client",
        token_url=sandbox.token_url("oauth2-private-key-jwt"),
        private_key="env:DEMO_JWT_KEY",
    )


def test_assertion_refused_for_a_clock_ahead_of_the_vendor_names_the_clock(
    sandbox, monkeypatch
) -> None:
    """A private_key_jwt 401 caused by this host's clock running ahead says "clock"."""
    sandbox.set_faults(clock_offset_s=-3600)
    with pytest.raises(TokenRequestError, match="clock") as info:
        TokenFetcher(_jwt_client(sandbox, monkeypatch)).fetch()
    assert info.value.status == 401
