"""Learning a rate nobody told: from the replies answered in the second before the first
429, or else from the rate the requests were booked at; each on a virtual clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from vendorgate.http import RateLimit
from vendorgate.http._ratelimit import _RateState

if TYPE_CHECKING:
    from conftest import VirtualTime


def _answer_at(state: _RateState, clock: VirtualTime, *times: float) -> None:
    """One request booked and answered 200 at each of the (virtual) ``times``."""
    for t in times:
        clock.now = t
        state.reserve()
        state.replied(200, [])


def test_only_the_replies_of_the_last_second_are_the_quota(virtual_time: VirtualTime) -> None:
    """Replies older than one second before the 429 do not count; one exactly a second old does."""
    state = _RateState(RateLimit(headroom=0.0))
    _answer_at(state, virtual_time, *(100.0 + i * 0.01 for i in range(30)))  # long before
    _answer_at(state, virtual_time, 199.5, 199.75)  # 1.5 and 1.25 s before the 429
    _answer_at(state, virtual_time, 200.0, 200.25, 200.5, 200.75, 200.875)
    virtual_time.now = 201.0
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == 5.0  # 200.0 (exactly one second before) .. 200.875


def test_four_replies_in_the_last_second_teach_a_rate_three_do_not(
    virtual_time: VirtualTime,
) -> None:
    """Four answered replies are a quota (less the headroom); three are too few to tell,
    and the rate the requests were booked at is cut instead."""
    four = _RateState(RateLimit(headroom=0.5))
    _answer_at(four, virtual_time, 10.0, 10.25, 10.5, 10.75)
    _, ticket = four.reserve()
    four.throttled(ticket, None)
    assert four.rate == 2.0
    assert [four.reserve()[0] for _ in range(3)] == [0.0, 0.5, 1.0]  # at the learnt rate

    three = _RateState(RateLimit(headroom=0.5))
    _answer_at(three, virtual_time, 20.0, 20.25, 20.5)
    _, ticket = three.reserve()
    three.throttled(ticket, None)
    assert three.rate == pytest.approx(3 / 0.5 * 0.7)  # four bookings over 0.5 s, less 30 %


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_failed_replies_are_not_the_quota(virtual_time: VirtualTime, status: int) -> None:
    """Only replies that succeeded count; failures before the 429 teach no quota."""
    state = _RateState(RateLimit(headroom=0.0))
    virtual_time.now = 30.0
    for _ in range(6):
        state.reserve()
        state.replied(status, [])
    _answer_at(state, virtual_time, 30.0, 30.0, 30.0)
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate is None  # three successes: too few; ten bookings at one instant: no span


def test_a_learnt_rate_is_never_below_the_floor(virtual_time: VirtualTime) -> None:
    """A tiny quota still paces at min_requests_per_s at least."""
    state = _RateState(RateLimit(headroom=0.9, min_requests_per_s=1.5))
    _answer_at(state, virtual_time, 5.0, 5.1, 5.2, 5.3)
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == 1.5


def test_429s_of_the_batch_sent_before_the_learning_cut_nothing_more(
    virtual_time: VirtualTime,
) -> None:
    """The other 429s of requests booked before the learnt rate leave it; a later one cuts it."""
    state = _RateState(RateLimit(headroom=0.0, decrease_factor=0.5))
    _answer_at(state, virtual_time, 1.0, 1.2, 1.4, 1.6, 1.8)
    virtual_time.now = 2.0
    tickets = [state.reserve()[1] for _ in range(3)]
    for ticket in tickets:
        state.throttled(ticket, None)
    assert state.rate == 5.0
    assert state.throttles == 3
    _, later = state.reserve()
    state.throttled(later, None)
    assert state.rate == 2.5


@pytest.mark.parametrize(
    ("gaps_s", "rate"),
    [
        ((0.1, 0.1, 0.1), 7.0),  # four bookings over 0.3 s: 10 per second, less 30 %
        ((0.2, 0.2, 0.2, 0.2, 0.2), 3.5),  # six over one second: 5 per second
        ((0.1, 0.1), None),  # three bookings: too few to tell, the 429 only pauses
        ((0.0, 0.0, 0.0), None),  # four at one instant: no span, no rate
    ],
)
def test_without_answered_replies_the_booking_rate_is_cut(
    virtual_time: VirtualTime, gaps_s: tuple[float, ...], rate: float | None
) -> None:
    """No replies answered (all failed): the rate the requests went out at, cut by the factor."""
    state = _RateState(RateLimit())
    virtual_time.now = 50.0
    _, ticket = state.reserve()
    for gap in gaps_s:
        virtual_time.advance(gap)
        _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == (None if rate is None else pytest.approx(rate))


def test_after_a_429_the_rate_recovers_to_just_under_where_it_drew_it(
    virtual_time: VirtualTime,
) -> None:
    """The rate climbs back to 95 % of the rate that drew the 429, then 100x slower."""
    virtual_time.now = 0.0
    state = _RateState(
        RateLimit(requests_per_s=100, headroom=0.0, decrease_factor=0.5, increase_per_s=10)
    )
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == 50.0
    virtual_time.now = 10.0  # 10 s without a 429: +100/s, but the ceiling is 95 (+1)
    state.reserve()
    assert state.rate == pytest.approx(96.0)


def test_a_429_never_lifts_the_rate_above_the_configured_one(virtual_time: VirtualTime) -> None:
    """Told a rate below the floor, a 429 does not let the client recover past what it was told."""
    virtual_time.now = 0.0
    state = _RateState(RateLimit(requests_per_s=0.1, headroom=0.0, min_requests_per_s=0.2))
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    virtual_time.now = 100.0
    state.reserve()
    assert state.rate == 0.1


def test_a_busy_client_recovers_too(virtual_time: VirtualTime) -> None:
    """Recovery accrues over many bookings a tenth of a second apart, not only after idle
    seconds; by default it climbs a fifth of the ceiling per second."""
    virtual_time.now = 0.0
    state = _RateState(RateLimit(requests_per_s=100, headroom=0.0, decrease_factor=0.5))
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == 50.0  # ceiling 95: recovers 19 per second
    for _ in range(10):
        virtual_time.advance(0.125)
        state.reserve()
    assert state.rate == pytest.approx(50.0 + 19.0 * 1.25, rel=0.005)  # the ceiling creeps too


def test_a_slow_client_recovers_at_least_one_request_per_second_each_second(
    virtual_time: VirtualTime,
) -> None:
    """Below five requests per second the default recovery is one per second."""
    virtual_time.now = 0.0
    state = _RateState(RateLimit(requests_per_s=4, headroom=0.0, decrease_factor=0.5))
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == 2.0
    virtual_time.now = 1.0
    state.reserve()
    assert state.rate == pytest.approx(3.0)
