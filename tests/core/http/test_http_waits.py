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
