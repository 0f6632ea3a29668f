"""Entering a limiter's slot, sync and async: a Retry-After pause holds an unpaced client
too, and a request cancelled while it waits gives its concurrency permit back."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from vendorgate.http import AsyncRateLimiter, RateLimit, RateLimiter


@pytest.mark.anyio
async def test_async_pause_holds_an_unpaced_client() -> None:
    """No rate configured: after a 429 with Retry-After the next request waits it out."""
    limiter = AsyncRateLimiter(RateLimit())
    limiter.throttled(limiter.state.reserve()[1], 0.3)
    started = time.monotonic()
    with anyio.fail_after(10):
        async with limiter.slot():
            waited = time.monotonic() - started
    assert waited >= 0.29


def test_sync_pause_holds_an_unpaced_client() -> None:
    """The same for the sync limiter."""
    limiter = RateLimiter(RateLimit())
    limiter.throttled(limiter.state.reserve()[1], 0.3)
    started = time.monotonic()
    with limiter.slot():
        waited = time.monotonic() - started
    assert waited >= 0.29


@pytest.mark.anyio
async def test_a_request_cancelled_while_waiting_gives_its_permit_back() -> None:
    """One permit; a request cancelled while it waits for its slot does not keep it."""
    limiter = AsyncRateLimiter(RateLimit(requests_per_s=5, headroom=0.0, max_concurrency=1))
    async with limiter.slot():
        pass
    with anyio.move_on_after(0.02) as scope:
        async with limiter.slot():  # booked 0.2 s later: cancelled while it waits
            pytest.fail("the slot should still be waiting")
    assert scope.cancelled_caught
    with anyio.fail_after(5):
        async with limiter.slot():
            pass


def test_a_sync_request_failing_while_waiting_gives_its_permit_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One permit; a thread interrupted while it waits for its slot does not keep it."""
    limiter = RateLimiter(RateLimit(requests_per_s=5, headroom=0.0, max_concurrency=1))
    with limiter.slot():
        pass

    class Interrupted(Exception):
        pass

    def interrupted_sleep(seconds: float) -> None:
        raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(time, "sleep", interrupted_sleep)
        with pytest.raises(Interrupted), limiter.slot():
            pytest.fail("the slot should still be waiting")
    entered = threading.Event()

    def take() -> None:
        with limiter.slot():
            entered.set()

    worker = threading.Thread(target=take, daemon=True)
    worker.start()
    assert entered.wait(5), "the permit was kept by the interrupted request"
    worker.join(5)
