"""Pacing on the vendor's rate-limit headers, and learning a limit from the first 429."""

from __future__ import annotations

import asyncio
import time

import pytest
from http_helpers import provider_for

from vendorgate.http import AsyncVendorClient, PageNumber, RateLimit, parse_limit_headers
from vendorgate.http._ratelimit import LimitHeaders, _RateState
from vendorgate.testing.sandbox import VendorSandbox


def _raw(**headers: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]


def test_ietf_fields_give_quota_window_remaining_and_reset() -> None:
    """The IETF RateLimit-Policy and RateLimit fields are read as quota/window and r/t."""
    found = parse_limit_headers(
        [
            (b"RateLimit-Policy", b'"burst";q=100;w=60, "day";q=1000;w=86400'),
            (b"RateLimit", b'"burst";r=40;t=12'),
        ]
    )
    assert found == LimitHeaders(quota=1000, window_s=86400, remaining=40, reset_s=12)


def test_older_ietf_draft_fields_are_read() -> None:
    """The older draft's RateLimit-Limit/-Remaining/-Reset and `100;w=60` policy work too."""
    found = parse_limit_headers(
        _raw(
            ratelimit_limit="100",
            ratelimit_remaining="7",
            ratelimit_reset="3",
            ratelimit_policy="100;w=60",
        )
    )
    assert found == LimitHeaders(quota=100, window_s=60, remaining=7, reset_s=3)


def test_x_ratelimit_reset_as_seconds() -> None:
    """X-RateLimit-Reset given as seconds is a delay."""
    found = parse_limit_headers(
        _raw(x_ratelimit_limit="50", x_ratelimit_remaining="49", x_ratelimit_reset="1"),
        now_epoch=1_800_000_000,
    )
    assert found == LimitHeaders(quota=50, remaining=49, reset_s=1)


def test_x_ratelimit_reset_as_unix_time_is_detected() -> None:
    """X-RateLimit-Reset given as a Unix time (GitHub) becomes seconds from now."""
    found = parse_limit_headers(_raw(x_ratelimit_reset="1800000030"), now_epoch=1_800_000_000)
    assert found is not None
    assert found.reset_s == pytest.approx(30)


def test_reply_without_rate_limit_headers_says_nothing() -> None:
    """Replies without rate-limit headers are not mistaken for a limit."""
    assert parse_limit_headers(_raw(content_type="application/json")) is None


def test_policy_sets_the_paced_rate_before_any_429() -> None:
    """A stated quota per window paces the client just under it."""
    state = _RateState(RateLimit())
    state.observe(LimitHeaders(quota=50, window_s=1, remaining=49, reset_s=1), time.monotonic())
    assert state.rate == pytest.approx(47.5)


def test_a_told_rate_caps_the_headers() -> None:
    """A configured requests_per_s stays the ceiling when the headers allow more."""
    state = _RateState(RateLimit(requests_per_s=10))
    state.observe(LimitHeaders(quota=50, window_s=1), time.monotonic())
    assert state.rate == pytest.approx(9.5)


def test_x_family_window_is_the_longest_reset_seen() -> None:
    """Without a stated window the quota is spread over the longest reset seen."""
    state = _RateState(RateLimit())
    now = time.monotonic()
    state.observe(LimitHeaders(quota=600, remaining=500, reset_s=30), now)
    state.observe(LimitHeaders(quota=600, remaining=400, reset_s=60), now)
    assert state.rate == pytest.approx(600 / 60 * 0.95)


def test_nothing_remaining_pauses_until_the_reset() -> None:
    """A reply saying no request remains holds every request until the reset."""
    state = _RateState(RateLimit())
    state.observe(LimitHeaders(quota=50, window_s=1, remaining=0, reset_s=2), time.monotonic())
    wait, _ticket = state.reserve()
    assert wait > 1.5


def test_headers_are_ignored_when_turned_off() -> None:
    """RateLimit(use_headers=False) paces on nothing but the configuration and 429s."""
    state = _RateState(RateLimit(use_headers=False))
    state.replied(200, _raw(ratelimit_policy='"d";q=5;w=1'))
    assert state.rate is None


def test_first_429_learns_the_requests_answered_in_the_last_second() -> None:
    """Not told a limit, the first 429 sets the rate to what was answered in the last second."""
    state = _RateState(RateLimit())
    for _ in range(50):
        state.reserve()
        state.replied(200, [])
    _wait, ticket = state.reserve()
    state.throttled(ticket, 1.0)
    assert state.rate == pytest.approx(47.5)


@pytest.mark.slow
@pytest.mark.parametrize("style", ["ietf", "x", "x-epoch"])
def test_client_paces_on_sandbox_headers_without_429(style: str) -> None:
    """Not told the limit, a client reading the vendor's headers pulls without a 429."""
    with VendorSandbox(dataset_size=400) as sb:
        provider = provider_for(sb)
        provider.get_token()
        sb.set_faults(
            path="/lonewolf/api/*",
            rate_limit_rps=20,
            rate_limit_burst=20,
            rate_limit_headers=style,
        )

        async def pull() -> tuple[int, float | None]:
            async with AsyncVendorClient(
                provider, base_url=sb.api_url("lonewolf"), concurrency=4
            ) as client:
                n = sum([1 async for _ in client.paginate("/items", PageNumber(page_size=10))])
                return n, client.limiter.current_rate

        n, rate = asyncio.run(pull())
        assert n == 400
        assert rate == pytest.approx(19.0)
        assert sb.counters().rate_limited == 0
