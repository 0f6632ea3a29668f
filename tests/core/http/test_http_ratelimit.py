"""The client-side rate limit: even spacing, a concurrency cap, 429 learning (AIMD)."""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING

import anyio
import pytest

from vendorgate import ConfigurationError
from vendorgate.http import AsyncRateLimiter, RateLimit, RateLimiter

if TYPE_CHECKING:
    from conftest import VirtualTime


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("requests_per_s", {"requests_per_s": 0}),
        ("max_concurrency", {"max_concurrency": 0}),
        ("decrease_factor", {"decrease_factor": 1.5}),
    ],
)
def test_bad_rate_limit_names_the_field(field: str, kwargs: dict[str, object]) -> None:
    """A bad rate-limit knob is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError) as info:
        RateLimit(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_slots_are_spaced_at_the_configured_rate(virtual_time: VirtualTime) -> None:
    """Consecutive requests go out exactly 1/rate seconds apart (virtual clock)."""
    limiter = RateLimiter(RateLimit(requests_per_s=1000, headroom=0))
    sent = []
    for _ in range(50):
        with limiter.slot():
            sent.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert gaps == pytest.approx([0.001] * 49, rel=1e-6)
    assert sent[-1] - sent[0] == pytest.approx(0.049, rel=1e-6)


def test_bookings_are_spaced_at_the_configured_rate(virtual_time: VirtualTime) -> None:
    """Requests booked at once are given waits 0, 1/rate, 2/rate, ... (virtual clock)."""
    limiter = RateLimiter(RateLimit(requests_per_s=1000, headroom=0))
    waits = [limiter.state.reserve()[0] for _ in range(50)]
    assert waits == pytest.approx([i * 0.001 for i in range(50)], rel=1e-6, abs=1e-12)


def test_429_slows_down_once_per_batch() -> None:
    """A burst of 429s from requests sent together cuts the rate once, not per reply."""
    limiter = RateLimiter(RateLimit(requests_per_s=100, decrease_factor=0.5, headroom=0))
    tickets = [limiter.state.reserve()[1] for _ in range(5)]
    for ticket in tickets:
        limiter.throttled(ticket, None)
    assert limiter.current_rate == pytest.approx(50, rel=0.05)
    assert limiter.state.throttles == 5


def test_retry_after_pauses_every_request(virtual_time: VirtualTime) -> None:
    """After a 429 with Retry-After, the next slot is booked exactly after the pause."""
    limiter = RateLimiter(RateLimit(requests_per_s=1000, headroom=0))
    _, ticket = limiter.state.reserve()
    limiter.throttled(ticket, 30.0)
    wait, _ = limiter.state.reserve()
    assert wait == pytest.approx(30.0)


def test_rate_recovers_additively_to_the_configured_rate(virtual_time: VirtualTime) -> None:
    """Without 429s the rate climbs back by increase_per_s each second, up to the cap."""
    limiter = RateLimiter(
        RateLimit(requests_per_s=100, decrease_factor=0.5, increase_per_s=10, headroom=0)
    )
    _, ticket = limiter.state.reserve()
    limiter.throttled(ticket, None)
    state = limiter.state
    virtual_time.advance(2.0)  # two seconds without a 429
    state.reserve()
    assert limiter.current_rate == pytest.approx(70)
    virtual_time.advance(60.0)
    state.reserve()
    assert limiter.current_rate == 100


def test_unlimited_client_learns_a_rate_from_429() -> None:
    """Without a configured rate, a 429 sets a rate below the rate the client was sending."""
    limiter = RateLimiter(RateLimit(decrease_factor=0.5))
    state = limiter.state
    _, ticket = state.reserve()
    assert limiter.current_rate is None
    state._recent.clear()
    state._recent.extend(1000.0 + i * 0.01 for i in range(20))  # 100 requests/s
    limiter.throttled(ticket, None)
    assert limiter.current_rate == pytest.approx(50, rel=0.01)


def test_a_single_429_teaches_nothing_without_a_rate() -> None:
    """Too few requests to estimate a rate: a 429 only pauses, it sets no rate."""
    limiter = RateLimiter(RateLimit())
    _, ticket = limiter.state.reserve()
    limiter.throttled(ticket, 2.0)
    assert limiter.current_rate is None
    assert limiter.state.reserve()[0] > 1.5


def test_sync_concurrency_cap_is_shared_by_threads() -> None:
    """No more than max_concurrency requests of one client are in flight at once."""
    limiter = RateLimiter(RateLimit(max_concurrency=2))
    inside = 0
    peak = 0
    lock = threading.Lock()
    two_in = threading.Event()
    release = threading.Event()

    def work() -> None:
        nonlocal inside, peak
        with limiter.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
                if inside == 2:
                    two_in.set()
            release.wait(10)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    assert two_in.wait(10)
    release.set()
    for t in threads:
        t.join(10)
    assert peak == 2


@pytest.mark.anyio
async def test_async_concurrency_cap() -> None:
    """The async limiter caps tasks in flight the same way."""
    limiter = AsyncRateLimiter(RateLimit(max_concurrency=3))
    inside = 0
    peak = 0
    release = anyio.Event()
    three_in = anyio.Event()

    async def work() -> None:
        nonlocal inside, peak
        async with limiter.slot():
            inside += 1
            peak = max(peak, inside)
            if inside == 3:
                three_in.set()
            await release.wait()
            inside -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(work)
        with anyio.fail_after(10):
            await three_in.wait()
        release.set()
    assert peak == 3


def test_headroom_paces_just_under_the_vendor_limit() -> None:
    """requests_per_s=50 with the default 5 % headroom spaces requests for 47.5/s."""
    limiter = RateLimiter(RateLimit(requests_per_s=50))
    assert limiter.current_rate == pytest.approx(47.5)


def test_late_sends_push_the_next_ones_back(virtual_time: VirtualTime) -> None:
    """Spacing holds on actual send times: a request sent late delays the next one."""
    limiter = RateLimiter(RateLimit(requests_per_s=10, headroom=0))
    state = limiter.state
    state.reserve()
    state.reserve()
    virtual_time.advance(0.05)  # the first one's sleep woke up 50 ms late
    assert state.sending() == 0.0  # the first goes out (late or not)
    assert state.sending() == pytest.approx(0.1)  # the second waits 100 ms from it
    virtual_time.advance(0.1)
    assert state.sending() == 0.0


def test_a_request_reaching_the_wire_late_delays_the_next(virtual_time: VirtualTime) -> None:
    """Spacing counts from when a request hit the socket (after a slow connect, say)."""
    limiter = RateLimiter(RateLimit(requests_per_s=10, headroom=0))
    state = limiter.state
    state.reserve()
    assert state.sending() == 0.0
    virtual_time.advance(0.3)  # a slow connect
    state.on_wire()  # written to the socket now, whenever it was booked
    wait, _ = state.reserve()
    assert wait == pytest.approx(0.1)
    assert state.sending() == pytest.approx(0.1)


def test_a_late_send_is_made_up_within_the_headroom(virtual_time: VirtualTime) -> None:
    """After a late wake-up the next request may follow sooner than the paced interval,
    catching up with the schedule, but never sooner than the vendor's own interval."""
    limiter = RateLimiter(RateLimit(requests_per_s=10, headroom=0.1))
    state = limiter.state
    interval = 1 / 9  # paced at 9/s
    gap = interval * 0.9 / 0.95  # half the headroom may be spent catching up
    state.reserve()
    state.reserve()
    virtual_time.advance(0.05)  # the first one's sleep woke up 50 ms late
    assert state.sending() == 0.0
    virtual_time.advance(interval - 0.05)  # the second one wakes at its booked slot
    wait = state.sending()
    assert wait == pytest.approx(0.05 + gap - interval)  # not 0.05: part is made up
    virtual_time.advance(wait)
    assert state.sending() == 0.0
    assert 0.05 + gap >= 1 / 10  # still no closer than the vendor's 10/s allow


def test_the_usual_time_to_the_wire_is_not_counted_twice(virtual_time: VirtualTime) -> None:
    """Requests that always take 5 ms from their slot to the socket still go out one
    paced interval apart, not interval + 5 ms (the delay is expected, not a late send)."""
    limiter = RateLimiter(RateLimit(requests_per_s=10, headroom=0))
    state = limiter.state
    sent = []
    for _ in range(60):
        wait, _ = state.reserve()
        virtual_time.advance(wait)
        while (wait := state.sending()) > 0:
            virtual_time.advance(wait)
        sent.append(time.monotonic())
        virtual_time.advance(0.005)  # httpx's own work before the headers are written
        state.on_wire()
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert gaps[-20:] == pytest.approx([0.1] * 20, rel=1e-6)
    assert gaps[0] == pytest.approx(0.105)  # nothing is usual yet: spaced on the wire
