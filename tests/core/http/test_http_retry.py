"""Retries: which failures are retried, Retry-After, caps, budget, typed errors, logs."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import (
    APIError,
    BadResponseError,
    ConfigurationError,
    RateLimitError,
    ServerError,
    TransportError,
)
from vendorgate.http import AsyncVendorClient, RetryPolicy, VendorClient, parse_retry_after

if TYPE_CHECKING:
    from conftest import VirtualTime

Handler = Callable[[httpx.Request], httpx.Response]

FAST = RetryPolicy(attempts=4, wait_initial_s=0.001, wait_max_s=0.01, timeout_s=10)


def _script(*replies: Callable[[httpx.Request], httpx.Response]) -> tuple[Handler, list[str]]:
    """A handler that answers the given replies in order (the last one repeats)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        reply = replies[min(len(seen) - 1, len(replies) - 1)]
        return reply(request)

    return handler, seen


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda r: httpx.Response(code, headers=headers, json={"error": code})


def ok(body: object = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda r: httpx.Response(200, json=body if body is not None else {"ok": True})


def _client(handler: Handler, policy: RetryPolicy = FAST, **kw: object) -> VendorClient:
    return VendorClient(
        FakeSource(),
        base_url="https://api.example.com",
        retry=policy,
        transport=httpx.MockTransport(handler),
        **kw,  # type: ignore[arg-type]
    )


def test_retry_after_seconds() -> None:
    """Retry-After in delay-seconds form is honoured."""
    assert parse_retry_after("7") == 7.0


def test_retry_after_http_date() -> None:
    """Retry-After in HTTP-date form is turned into seconds from now."""
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30, abs=1)


def test_retry_after_garbage_is_ignored() -> None:
    """An unparseable Retry-After falls back to the policy's backoff."""
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_in_the_past_means_now() -> None:
    """An HTTP-date in the past means retry without waiting."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("attempts", {"attempts": 0}),
        ("timeout_s", {"timeout_s": 0}),
        ("wait_max_s", {"wait_max_s": -1}),
        ("wait_jitter_s", {"wait_jitter_s": -1}),
        ("retry_statuses", {"retry_statuses": frozenset({1000})}),
    ],
)
def test_bad_policy_names_the_field(field: str, kwargs: dict[str, object]) -> None:
    """A bad retry knob is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_backoff_is_full_jitter_and_capped() -> None:
    """Backoff n is drawn from [0, min(cap, initial * 2**(n-1))]."""
    policy = RetryPolicy(wait_initial_s=1, wait_max_s=5)
    draws = [policy.backoff_s(3) for _ in range(500)]
    assert all(0 <= d <= 4 for d in draws)
    assert min(draws) < 1
    assert max(draws) > 3
    assert all(policy.backoff_s(20) <= 5 for _ in range(100))


@pytest.mark.parametrize("code", [429, 502, 503, 504])
def test_retryable_status_then_success(code: int) -> None:
    """429/502/503/504 are retried and the call succeeds once the vendor recovers."""
    handler, seen = _script(status(code), status(code), ok())
    with _client(handler) as client:
        assert client.get_json("/items") == {"ok": True}
    assert len(seen) == 3


def test_server_errors_exhausted_raise_server_error_with_context() -> None:
    """After the last attempt a 503 is a ServerError with status, vendor, request id,
    URL without query and a redacted body excerpt."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            headers={"x-amzn-requestid": "amz-42"},
            json={"error": "down", "access_token": "leaked-value"},
        )

    with _client(handler) as client, pytest.raises(ServerError) as info:
        client.get("/items", params={"page": 2, "api_key": "k"})
    err = info.value
    assert (err.status, err.vendor, err.request_id) == (503, "fake", "amz-42")
    assert err.url == "https://api.example.com/items"
    assert "leaked-value" not in (err.body_excerpt or "")
    assert "down" in (err.body_excerpt or "")
    assert "4 attempts" in str(err)
    assert "api_key" not in str(err)


def test_429_exhausted_is_rate_limit_error() -> None:
    """A vendor that keeps answering 429 ends in RateLimitError."""
    handler, seen = _script(status(429))
    with _client(handler) as client, pytest.raises(RateLimitError):
        client.get("/items")
    assert len(seen) == FAST.attempts


def test_client_error_is_not_retried() -> None:
    """A 404 is raised at once as an APIError (not retried)."""
    handler, seen = _script(status(404))
    with _client(handler) as client, pytest.raises(APIError) as info:
        client.get("/nope")
    assert info.value.status == 404
    assert len(seen) == 1


def test_post_is_not_retried_by_default() -> None:
    """POST is not idempotent: a 503 is raised after one attempt."""
    handler, seen = _script(status(503), ok())
    with _client(handler) as client, pytest.raises(ServerError):
        client.post("/orders", json={"a": 1})
    assert seen == ["POST"]


def test_post_is_retried_when_opted_in() -> None:
    """Adding POST to retry_methods retries it."""
    policy = RetryPolicy(
        attempts=3, wait_initial_s=0.001, wait_max_s=0.01, retry_methods=frozenset({"GET", "POST"})
    )
    handler, seen = _script(status(503), ok())
    with _client(handler, policy) as client:
        assert client.post("/orders", json={"a": 1}).status_code == 200
    assert seen == ["POST", "POST"]


def test_connection_errors_exhausted_raise_transport_error() -> None:
    """A vendor that cannot be reached ends in TransportError, the cause kept."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with _client(handler) as client, pytest.raises(TransportError) as info:
        client.get("/items")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_truncated_json_is_retried_then_bad_response() -> None:
    """A truncated JSON body is retried, then raised as BadResponseError."""
    handler, seen = _script(lambda r: httpx.Response(200, content=b'{"items": [1, 2'))
    with _client(handler) as client, pytest.raises(BadResponseError) as info:
        client.get_json("/items")
    assert len(seen) == FAST.attempts
    assert info.value.status == 200


def test_retry_after_is_used_and_capped_per_wait(
    caplog: pytest.LogCaptureFixture, virtual_time: VirtualTime
) -> None:
    """A Retry-After larger than wait_max_s waits wait_max_s; each retry is logged once
    with status, attempt and wait, and without the token."""
    policy = RetryPolicy(attempts=3, wait_initial_s=0.001, wait_max_s=0.02)
    handler, _ = _script(status(429, **{"Retry-After": "120"}), ok())
    source = FakeSource()
    caplog.set_level(logging.INFO, logger="vendorgate.http")
    with VendorClient(
        source, base_url="https://x.test", retry=policy, transport=httpx.MockTransport(handler)
    ) as client:
        client.get("/items")
    assert virtual_time.sleeps == [pytest.approx(0.02)]  # once, capped (not 120 s)
    retries = [
        r for r in caplog.records if r.name == "vendorgate.http" and "retry" in r.getMessage()
    ]
    assert len(retries) == 1
    msg = retries[0].getMessage()
    assert "status 429" in msg
    assert "retry 1 of 2" in msg
    assert "0.02 s" in msg
    assert source.get_token().access_token not in caplog.text


def test_total_budget_stops_retries_early(virtual_time: VirtualTime) -> None:
    """No retry is started whose wait would end past timeout_s."""
    policy = RetryPolicy(attempts=10, wait_initial_s=0.001, wait_max_s=5, timeout_s=1)
    handler, seen = _script(status(503, **{"Retry-After": "3"}))
    with _client(handler, policy) as client, pytest.raises(ServerError):
        client.get("/items")
    assert virtual_time.sleeps == []  # the error at once: no wait of 3 s into a 1 s budget
    assert len(seen) == 1


def test_retry_testing_mode_disables_waits(no_backoff: None, virtual_time: VirtualTime) -> None:
    """Under vendorgate.http.retry_testing, Retry-After waits are skipped."""
    policy = RetryPolicy(attempts=3, wait_max_s=60, timeout_s=300)
    handler, seen = _script(status(503, **{"Retry-After": "60"}), ok())
    with _client(handler, policy) as client:
        client.get("/items")
    assert virtual_time.sleeps == []
    assert len(seen) == 2


@pytest.mark.anyio
async def test_async_client_retries_and_raises_typed_errors() -> None:
    """The async client retries the same way and raises the same typed errors."""
    handler, seen = _script(status(502), ok({"v": 1}))
    async with AsyncVendorClient(
        FakeSource(), base_url="https://x.test", retry=FAST, transport=httpx.MockTransport(handler)
    ) as client:
        assert await client.get_json("/v") == {"v": 1}
    handler2, _ = _script(status(504))
    async with AsyncVendorClient(
        FakeSource(), base_url="https://x.test", retry=FAST, transport=httpx.MockTransport(handler2)
    ) as client:
        with pytest.raises(ServerError):
            await client.get("/v")
    assert len(seen) == 2


def test_error_url_has_no_query_and_no_user_info() -> None:
    """URLs in errors and logs drop the query string and credentials in the URL."""
    from vendorgate.http._response import safe_url

    url = httpx.URL("https://user:pw@api.test:8443/a/b%20c?api_key=k#frag")
    assert safe_url(url) == "https://api.test:8443/a/b%20c"


def test_redirect_is_a_typed_error_naming_the_location_and_not_retried() -> None:
    """A 3xx is an APIError with the status and the target, sent once."""
    handler, seen = _script(
        lambda r: httpx.Response(301, headers={"Location": "https://new.example.com/v2?k=1"})
    )
    with _client(handler) as client, pytest.raises(APIError) as info:
        client.get("/items")
    assert type(info.value) is APIError
    assert info.value.status == 301
    assert "https://new.example.com/v2" in str(info.value)
    assert len(seen) == 1


def test_undecodable_body_error_has_status_and_request_id() -> None:
    """A body that cannot be decompressed gives BadResponseError with status and request id."""
    handler, _ = _script(
        lambda r: httpx.Response(
            200,
            stream=httpx.ByteStream(b"not gzip at all"),
            headers={"Content-Encoding": "gzip", "x-request-id": "rid-7"},
        )
    )
    with _client(handler) as client, pytest.raises(BadResponseError) as info:
        client.get_json("/items")
    assert info.value.status == 200
    assert info.value.request_id == "rid-7"


@pytest.mark.parametrize("code", [400, 403, 500])
def test_token_echoed_in_an_error_body_is_redacted(code: int) -> None:
    """An error body echoing the token sent never shows it in the error or its excerpt."""
    body = '{"error": "token s3cr3t-token-1 is not allowed here"}'
    handler, _ = _script(lambda r: httpx.Response(code, text=body))
    with _client(handler, RetryPolicy.none()) as client, pytest.raises(APIError) as info:
        client.get("/items")
    assert info.value.body_excerpt is not None
    assert "not allowed" in info.value.body_excerpt
    assert "s3cr3t-token-1" not in str(info.value) + info.value.body_excerpt


def test_retry_after_a_learnt_rate_is_paced_on_wire_time() -> None:
    """A retry made after a 429 taught the rate carries the wire-time trace hook."""
    traced: list[bool] = []

    def handler(request: httpx.Request) -> httpx.Response:
        traced.append("trace" in request.extensions)
        return httpx.Response(429 if len(traced) < 6 else 200, json={})

    with _client(handler, RetryPolicy(attempts=8, wait_initial_s=0.001, wait_max_s=0.01)) as c:
        for _ in range(4):  # enough bookings for the limiter to estimate a rate
            c.limiter.state.reserve()
        c.get("/items")
    assert c.limiter.current_rate is not None
    assert traced[0] is False
    assert traced[-1] is True
