"""The token request under faults injected by the sandbox (retries, HTML, truncation)."""

from __future__ import annotations

import pytest

from vendorgate import (
    TokenRequestError,
    TokenResponseError,
    TokenTransportError,
    TransportError,
)
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher

pytestmark = pytest.mark.slow


def _lonewolf(sandbox) -> TokenFetcher:
    demo = sandbox.demo_credentials("lonewolf")
    return TokenFetcher(
        TokenConfig(
            dialect=get_dialect("lonewolf"),
            client_id=demo["client_id"],
            token_url=sandbox.token_url("lonewolf"),
            client_secret="literal:" + demo["client_secret"].reveal(),
        )
    )


def test_503_burst_is_retried(sandbox) -> None:
    """Two 503s from the token endpoint are retried and the third attempt succeeds."""
    sandbox.set_faults(path="/lonewolf/oauth/token", status=503, status_burst=2)
    assert _lonewolf(sandbox).fetch().access_token


def test_429_with_retry_after_is_retried(sandbox) -> None:
    """A 429 with Retry-After is retried (tests run retries without waiting)."""
    sandbox.set_faults(path="/lonewolf/oauth/token", status=429, status_burst=1, retry_after_s=1)
    assert _lonewolf(sandbox).fetch().access_token


def test_connection_reset_is_retried(sandbox) -> None:
    """A connection reset on the token request is retried."""
    sandbox.set_faults(path="/lonewolf/oauth/token", reset_burst=1)
    assert _lonewolf(sandbox).fetch().access_token


def test_persistent_500_gives_up(sandbox) -> None:
    """A token endpoint that keeps failing ends in TokenRequestError with the status."""
    sandbox.set_faults(path="/lonewolf/oauth/token", status=500)
    with pytest.raises(TokenRequestError) as info:
        _lonewolf(sandbox).fetch()
    assert info.value.status == 500
    assert info.value.vendor == "lonewolf"


def test_html_token_reply(sandbox) -> None:
    """An HTML page instead of the token reply is a TokenResponseError saying HTML."""
    sandbox.set_faults(html_token_endpoint=True)
    with pytest.raises(TokenResponseError, match="HTML"):
        _lonewolf(sandbox).fetch()


def test_truncated_token_reply(sandbox) -> None:
    """A token reply truncated on every attempt is a TokenResponseError leaking no token part."""
    sandbox.set_faults(path="/lonewolf/oauth/token", truncate_every=1)
    with pytest.raises(TokenResponseError, match="truncated") as info:
        _lonewolf(sandbox).fetch()
    assert "eyJ" not in str(info.value)


def _techwolf_jwt(sandbox, monkeypatch) -> TokenFetcher:
    monkeypatch.setenv("DEMO_JWT_KEY", sandbox.demo_private_key_pem.reveal())
    return TokenFetcher(
        TokenConfig(
            dialect=get_dialect("techwolf-eu"),
            client_id="demo-jwt-client",
            token_url=sandbox.token_url("techwolf-eu"),
            private_key="env:DEMO_JWT_KEY",
            tenant=sandbox.demo_credentials("techwolf-eu")["tenant"],
        )
    )


def test_retry_after_reset_signs_a_fresh_assertion(sandbox, monkeypatch) -> None:
    """A private_key_jwt request reset mid-body is retried with a new jti and succeeds."""
    sandbox.set_faults(path="*/oauth/token", reset_burst=1, reset_mid_body=True)
    assert _techwolf_jwt(sandbox, monkeypatch).fetch().access_token


@pytest.mark.anyio
async def test_async_retry_after_reset_signs_a_fresh_assertion(sandbox, monkeypatch) -> None:
    """Async: a private_key_jwt request reset mid-body is retried with a new jti."""
    sandbox.set_faults(path="*/oauth/token", reset_burst=1, reset_mid_body=True)
    token = await _techwolf_jwt(sandbox, monkeypatch).afetch()
    assert token.access_token


def test_exhausted_retries_raise_the_public_class(sandbox) -> None:
    """When retries run out the error is exactly TokenRequestError, not a private subclass."""
    sandbox.set_faults(path="/lonewolf/oauth/token", status=503)
    with pytest.raises(TokenRequestError) as info:
        _lonewolf(sandbox).fetch()
    assert type(info.value) is TokenRequestError
    assert type(info.value).__name__ == "TokenRequestError"


@pytest.mark.anyio
async def test_async_exhausted_retries_raise_the_public_class(sandbox) -> None:
    """Async: an endpoint that cannot be reached ends in the public TokenTransportError,
    which `except TokenRequestError` and `except TransportError` both catch."""
    sandbox.set_faults(path="/lonewolf/oauth/token", reset_burst=10)
    with pytest.raises(TokenRequestError) as info:
        await _lonewolf(sandbox).afetch()
    assert type(info.value) is TokenTransportError
    assert isinstance(info.value, TransportError)
    assert info.value.status is None
