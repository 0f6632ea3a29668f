"""Pacing on the vendor's headers (GCRA), on a virtual clock: a send that fell behind may
catch up only while the stated ``remaining`` (less what went out since and the requests
in flight) covers it, and never by more than one second's worth of requests."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest

from vendorgate.http import RateLimit
from vendorgate.http._ratelimit import _IN_FLIGHT_MARGIN, LimitHeaders, _RateState

if TYPE_CHECKING:
    from conftest import VirtualTime


def _told(clock: VirtualTime, remaining: float) -> _RateState:
    """A state told 8 requests per second (interval 0.125 s) with ``remaining`` left."""
    clock.now = 100.0
    state = _RateState(RateLimit(headroom=0.0))
    state.observe(LimitHeaders(quota=8, window_s=1, remaining=remaining, reset_s=1), clock.now)
    assert state.rate == 8.0
    return state


def _burst(state: _RateState) -> tuple[int, float]:
    """Sends made at one instant before one has to wait, and that wait."""
    sent = 0
    while (wait := state.sending()) <= 0:
        sent += 1
        assert sent < 100, "never paced"
    return sent, wait


@pytest.mark.parametrize(
    ("spare", "sent"),
    [
        (0, 1),  # nothing to spare beyond the requests in flight: strictly spaced
        (3, 2),  # each send spends one of the spare: two go at once, the third waits
        (5, 3),
        (1000, 9),  # plenty left: at most one second's worth (8 intervals) is made up
    ],
)
def test_catching_up_is_bounded_by_what_remains(
    virtual_time: VirtualTime, spare: int, sent: int
) -> None:
    """How many requests may go at once after falling behind, and the wait of the next."""
    state = _told(virtual_time, _IN_FLIGHT_MARGIN + spare)
    assert _burst(state) == (sent, 0.125)


def test_a_send_exactly_on_its_slot_is_counted(virtual_time: VirtualTime) -> None:
    """A request that goes out exactly at its slot moves the schedule on for the next."""
    state = _told(virtual_time, _IN_FLIGHT_MARGIN)
    assert state.sending() == 0.0
    assert state.sending() == 0.125
    virtual_time.advance(0.125)
    assert state.sending() == 0.0  # on its slot: sent
    assert state.sending() == 0.125  # so the next waits a whole interval


def test_a_new_reply_renews_what_remains(virtual_time: VirtualTime) -> None:
    """The sends counted against ``remaining`` start again from each reply's figure."""
    state = _told(virtual_time, _IN_FLIGHT_MARGIN + 3)
    assert _burst(state) == (2, 0.125)
    virtual_time.advance(1.0)
    state.observe(LimitHeaders(quota=8, window_s=1, remaining=_IN_FLIGHT_MARGIN + 3), 101.0)
    assert _burst(state) == (2, 0.125)  # the same two again, not one (three spent already)


def test_a_pause_holds_every_send_to_its_end_then_spacing_resumes(
    virtual_time: VirtualTime,
) -> None:
    """During a Retry-After pause a send waits the rest of it; at its end sends are spaced."""
    virtual_time.now = 10.0
    state = _RateState(RateLimit(requests_per_s=10, headroom=0.0, adaptive=False))
    _, ticket = state.reserve()
    state.throttled(ticket, 0.5)
    virtual_time.now = 10.25
    assert state.sending() == pytest.approx(0.25)
    virtual_time.now = 10.5
    assert state.sending() == 0.0
    assert state.sending() == pytest.approx(0.1)


def test_a_send_exactly_one_interval_later_is_counted(virtual_time: VirtualTime) -> None:
    """Sends exactly one interval apart all go out, each moving the schedule on."""
    virtual_time.now = 10.0
    state = _RateState(RateLimit(requests_per_s=8, headroom=0.0))
    assert state.sending() == 0.0
    virtual_time.now = 10.125
    assert state.sending() == 0.0
    assert state.sending() == 0.125


def test_a_late_send_pushes_the_next_booking_back(virtual_time: VirtualTime) -> None:
    """A send half a second late books the next request one interval after it, not at once."""
    virtual_time.now = 10.0
    state = _RateState(RateLimit(requests_per_s=10, headroom=0.0))
    assert state.reserve()[0] == 0.0
    virtual_time.now = 10.5  # the sleep woke up late
    assert state.sending() == 0.0
    assert state.reserve()[0] == pytest.approx(0.1)


def test_a_write_seen_at_the_send_instant_is_no_usual_delay(virtual_time: VirtualTime) -> None:
    """On a coarse clock the socket write can read the same time as the send: that is not
    a zero delay to the wire, and the usual 5 ms learnt before still is not counted twice."""
    state = _RateState(RateLimit(requests_per_s=10, headroom=0.0))
    sent = []
    for i in range(40):
        wait, _ = state.reserve()
        virtual_time.advance(wait)
        while (wait := state.sending()) > 0:
            virtual_time.advance(wait)
        sent.append(virtual_time.now)
        if i != 30:
            virtual_time.advance(0.005)  # httpx's own work before the headers are written
        state.on_wire()
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert gaps[20:] == pytest.approx([0.1] * 19, rel=1e-6)
