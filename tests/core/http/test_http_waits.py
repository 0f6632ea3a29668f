"""The client's waits, each mechanism on its own, observed with a virtual clock."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import RateLimitError
from vendorgate.http import RateLimit, RetryPolicy, VendorClient

if TYPE_CHECKING:
    from conftest import VirtualTime


class Vendor:
    """Answers the scripted statuses in turn (then 200) and records when each request came."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.arrivals: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrivals.append(time.monotonic())
        if self.replies:
            return self.replies.pop(0)
        return httpx.Response(200, json={"ok": True})

    def client(self, policy: RetryPolicy, limit: RateLimit | None = None) -> VendorClient:
        return VendorClient(
            FakeSource(),
            base_url="https://api.example.com",
            retry=policy,
            rate_limit=limit,
            transport=httpx.MockTransport(self),
        )


def _429(retry_after: str) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": retry_after}, json={"error": "slow down"})


def test_429_retry_after_pauses_the_rate_limiter_without_any_retry(
    virtual_time: VirtualTime,
) -> None:
    """With retries off, the next request of the client still waits out a 429's Retry-After."""
    vendor = Vendor(_429("5"))
    with vendor.client(RetryPolicy(attempts=1, timeout_s=120, wait_max_s=60)) as client:
        with pytest.raises(RateLimitError):
            client.get("/items")
        client.get("/items")
    assert vendor.arrivals[1] - vendor.arrivals[0] == pytest.approx(5.0)
    assert virtual_time.sleeps == [pytest.approx(5.0)]


def test_429_pause_applies_to_a_paced_client(virtual_time: VirtualTime) -> None:
    """A paced client (10/s) also waits the whole Retry-After, not just its spacing."""
    vendor = Vendor(_429("4"))
    policy = RetryPolicy(attempts=1, timeout_s=120, wait_max_s=60)
    with vendor.client(policy, RateLimit(requests_per_s=10, headroom=0)) as client:
        with pytest.raises(RateLimitError):
            client.get("/items")
        client.get("/items")
    assert vendor.arrivals[1] - vendor.arrivals[0] == pytest.approx(4.0)


def test_retry_after_is_capped_by_wait_max_s_for_the_limiter(virtual_time: VirtualTime) -> None:
    """A Retry-After above wait_max_s pauses the client for wait_max_s only."""
    vendor = Vendor(_429("600"))
    with vendor.client(RetryPolicy(attempts=1, timeout_s=120, wait_max_s=9)) as client:
        with pytest.raises(RateLimitError):
            client.get("/items")
        client.get("/items")
    assert vendor.arrivals[1] - vendor.arrivals[0] == pytest.approx(9.0)


def test_retried_429_waits_its_retry_after_once(virtual_time: VirtualTime) -> None:
    """A retried 429 is sent again after exactly Retry-After: the two waits do not add up."""
    vendor = Vendor(_429("5"))
    with vendor.client(RetryPolicy(attempts=2, timeout_s=120, wait_max_s=60)) as client:
        assert client.get("/items") is not None
    assert vendor.arrivals[1] - vendor.arrivals[0] == pytest.approx(5.0)


def test_retried_503_waits_its_retry_after(virtual_time: VirtualTime) -> None:
    """A 503 with Retry-After: 2 is retried after exactly 2 s (the retrier's own wait)."""
    vendor = Vendor(httpx.Response(503, headers={"Retry-After": "2"}, json={}))
    with vendor.client(RetryPolicy(attempts=2, timeout_s=120, wait_max_s=60)) as client:
        client.get("/items")
    assert vendor.arrivals[1] - vendor.arrivals[0] == pytest.approx(2.0)
    assert virtual_time.sleeps == [pytest.approx(2.0)]


def test_backoff_adds_the_configured_jitter(
    virtual_time: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Retry-After the wait is a full-jitter draw below wait_initial_s plus a draw
    below wait_jitter_s (each draw pinned here to the middle of its range)."""
    import random

    monkeypatch.setattr(random, "uniform", lambda low, high: (low + high) / 2)
    vendor = Vendor(httpx.Response(503, json={}))
    policy = RetryPolicy(attempts=2, timeout_s=120, wait_initial_s=4, wait_jitter_s=2)
    with vendor.client(policy) as client:
        client.get("/items")
    assert virtual_time.sleeps == [pytest.approx(2.0 + 1.0)]


def test_each_429_is_reported_once_with_its_retry_after(virtual_time: VirtualTime) -> None:
    """A 429 emits one RateLimited event (vendor, URL, Retry-After); a 503 emits none."""
    from vendorgate import events

    seen: list[events.Event] = []
    vendor = Vendor(_429("5"), httpx.Response(503, json={}))
    policy = RetryPolicy(attempts=3, timeout_s=120, wait_max_s=60, wait_initial_s=0.5)
    with events.listen(seen.append), vendor.client(policy) as client:
        client.get("/items")
    limited = [e for e in seen if isinstance(e, events.RateLimited)]
    assert limited == [events.RateLimited("fake", "https://api.example.com/items", 5.0)]


def test_give_up_says_how_long_the_retries_took(virtual_time: VirtualTime) -> None:
    """The final error says how many attempts were made in how many seconds."""
    vendor = Vendor(*[_429("2")] * 3)
    with (
        vendor.client(RetryPolicy(attempts=3, timeout_s=120, wait_max_s=60)) as client,
        pytest.raises(RateLimitError) as info,
    ):
        client.get("/items")
    assert "(gave up after 3 attempts in 4.0 s)" in str(info.value)
