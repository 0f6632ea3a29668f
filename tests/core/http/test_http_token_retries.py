"""Token requests and API calls share one retry engine: one cap, one budget, one log line."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import httpx
import pytest

from vendorgate import TokenRequestError, TokenTransportError, TransportError
from vendorgate.cache import TokenCache
from vendorgate.dialects import get_dialect
from vendorgate.http import AsyncVendorClient, RetryPolicy, VendorClient, retry_testing
from vendorgate.tokens import TokenConfig, TokenFetcher, TokenProvider

TOKEN_URL = "https://id.example.com/oauth/token"


class TokenEndpoint:
    """A scripted token endpoint that records each request's read timeout."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response]) -> None:
        self.reply = reply
        self.read_timeouts: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.read_timeouts.append(request.extensions["timeout"]["read"])
        return self.reply(request)


def _config() -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("oauth2-basic"),
        client_id="cid",
        token_url=TOKEN_URL,
        client_secret="literal:s3cr3t-client-secret",
    )


def _api_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def _busy(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, headers={"Retry-After": "120"}, json={"error": "busy"})


def test_token_fetch_inside_an_api_call_keeps_to_the_call_budget() -> None:
    """A token endpoint asking to wait longer than the API call's budget is not waited
    for: the call fails at once with the token error, after one token request."""
    endpoint = TokenEndpoint(_busy)
    provider = TokenProvider(
        _config(),
        cache=TokenCache(),
        http_client=httpx.Client(transport=httpx.MockTransport(endpoint)),
    )
    with (
        VendorClient(
            provider,
            base_url="https://api.example.com",
            retry=RetryPolicy(timeout_s=2),
            transport=httpx.MockTransport(_api_ok),
        ) as client,
        pytest.raises(TokenRequestError) as info,
    ):
        client.get("/items")
    assert info.value.status == 503
    assert len(endpoint.read_timeouts) == 1
    assert endpoint.read_timeouts[0] <= 2  # not the token config's 30 s


@pytest.mark.anyio
async def test_async_token_fetch_keeps_to_the_call_budget() -> None:
    """Async: the token request made for an API call is capped by the call's budget."""
    endpoint = TokenEndpoint(_busy)
    provider = TokenProvider(
        _config(),
        cache=TokenCache(),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(endpoint)),
    )
    async with AsyncVendorClient(
        provider,
        base_url="https://api.example.com",
        retry=RetryPolicy(timeout_s=2),
        transport=httpx.MockTransport(_api_ok),
    ) as client:
        with pytest.raises(TokenRequestError):
            await client.get("/items")
    assert len(endpoint.read_timeouts) == 1
    assert endpoint.read_timeouts[0] <= 2


def _waits(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [
        r.getMessage().rsplit(" in ", 1)[1]
        for r in caplog.records
        if r.name == logger and "retry" in r.getMessage()
    ]


def test_retry_after_has_one_cap_on_both_sides(caplog: pytest.LogCaptureFixture) -> None:
    """Retry-After: 120 waits 30 s (the default cap) on the token endpoint and the API."""
    caplog.set_level(logging.WARNING)
    endpoint = TokenEndpoint(_busy)
    with retry_testing(attempts=2), pytest.raises(TokenRequestError):
        TokenFetcher(
            _config(), http_client=httpx.Client(transport=httpx.MockTransport(endpoint))
        ).fetch()
    answered: list[int] = []

    def api(request: httpx.Request) -> httpx.Response:
        answered.append(1)
        return _busy(request) if len(answered) == 1 else _api_ok(request)

    with (
        retry_testing(attempts=2),
        VendorClient(base_url="https://api.example.com", transport=httpx.MockTransport(api)) as c,
    ):
        c.get("/items")
    assert _waits(caplog, "vendorgate.tokens") == ["30.00 s"]
    assert _waits(caplog, "vendorgate.http") == ["30.00 s"]


def test_token_retries_raise_no_deprecation_warning() -> None:
    """Retrying a token request warns about nothing (no third-party deprecation)."""
    replies = [httpx.Response(503), httpx.Response(503)]

    def endpoint(request: httpx.Request) -> httpx.Response:
        if replies:
            return replies.pop(0)
        return httpx.Response(200, json={"access_token": "at-1", "expires_in": 3600})

    with retry_testing(attempts=3), warnings.catch_warnings():
        warnings.simplefilter("error")
        token = TokenFetcher(
            _config(), http_client=httpx.Client(transport=httpx.MockTransport(endpoint))
        ).fetch()
    assert token.access_token == "at-1"


def test_unreachable_token_endpoint_is_a_transport_error() -> None:
    """A token endpoint that cannot be reached raises TokenTransportError, caught by both
    `except TokenRequestError` and `except TransportError`, with the safe URL."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    config = TokenConfig(
        dialect=get_dialect("oauth2-basic"),
        client_id="cid",
        token_url=TOKEN_URL + "?tenant=t1",
        client_secret="literal:s3cr3t-client-secret",
    )
    with retry_testing(attempts=2), pytest.raises(TransportError) as info:
        TokenFetcher(
            config, http_client=httpx.Client(transport=httpx.MockTransport(refuse))
        ).fetch()
    err = info.value
    assert isinstance(err, TokenTransportError)
    assert isinstance(err, TokenRequestError)
    assert (err.status, err.vendor, err.url) == (None, "oauth2-basic", TOKEN_URL)
    assert "tenant" not in str(err)


def test_token_and_api_errors_carry_the_same_details() -> None:
    """A refused token request carries status, vendor, safe URL, request id and a
    redacted excerpt, like an API error."""

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            headers={"x-request-id": "rid-9"},
            json={"error": "invalid_client", "echo": "s3cr3t-client-secret"},
        )

    with pytest.raises(TokenRequestError) as info:
        TokenFetcher(
            _config(), http_client=httpx.Client(transport=httpx.MockTransport(refuse))
        ).fetch()
    err = info.value
    assert (err.status, err.vendor, err.url, err.request_id) == (
        400,
        "oauth2-basic",
        TOKEN_URL,
        "rid-9",
    )
    assert "invalid_client" in (err.body_excerpt or "")
    assert "s3cr3t" not in (err.body_excerpt or "") + str(err)
