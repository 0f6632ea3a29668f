"""What a reply's rate-limit headers change, on a virtual clock: the paced rate, the
ceiling a 429's cut recovers to, and the pause when nothing remains."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from vendorgate.http import RateLimit
from vendorgate.http._ratelimit import LimitHeaders, _RateState

if TYPE_CHECKING:
    from conftest import VirtualTime

H = LimitHeaders


@pytest.mark.parametrize(
    ("limits", "rate"),
    [
        (H(quota=600, window_s=60), 9.5),  # per window, not per second
        (H(quota=1, window_s=1), 0.95),  # a quota of one is a quota
        (H(quota=0, window_s=1), None),  # a quota of nothing paces nothing
        (H(remaining=5, reset_s=1), None),  # no quota stated: no pace
    ],
)
def test_the_stated_quota_sets_the_pace(
    virtual_time: VirtualTime, limits: LimitHeaders, rate: float | None
) -> None:
    """The pace is the quota per second, less the headroom; no quota, no pace."""
    state = _RateState(RateLimit())
    state.observe(limits, virtual_time.now)
    assert state.rate == (None if rate is None else pytest.approx(rate))
    assert state.reserve()[0] == 0.0


def test_one_remaining_request_is_still_sent(virtual_time: VirtualTime) -> None:
    """Only a reply saying nothing remains pauses the client until the reset."""
    state = _RateState(RateLimit())
    state.observe(H(remaining=1, reset_s=2), virtual_time.now)
    assert state.reserve()[0] == 0.0
    state.observe(H(remaining=0, reset_s=2), virtual_time.now)
    assert state.reserve()[0] == 2.0


def test_nothing_remaining_pauses_a_client_paced_by_its_own_rate(
    virtual_time: VirtualTime,
) -> None:
    """Told requests_per_s, and a vendor stating only remaining and reset: the pause holds."""
    state = _RateState(RateLimit(requests_per_s=10, headroom=0.0))
    state.observe(H(remaining=0, reset_s=3), virtual_time.now)
    assert state.reserve()[0] == 3.0
    assert state.reserve()[0] == pytest.approx(3.1)


def test_the_told_rate_stays_the_ceiling_after_a_429(virtual_time: VirtualTime) -> None:
    """Headers allowing more than requests_per_s: after a 429 the rate never climbs past it."""
    virtual_time.now = 0.0
    state = _RateState(RateLimit(requests_per_s=10, headroom=0.0, increase_per_s=1))
    state.observe(H(quota=50, window_s=1), 0.0)
    assert state.rate == 10.0
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == 7.0
    virtual_time.now = 10_000.0
    state.reserve()
    assert state.rate == 10.0


def test_a_new_stated_quota_keeps_the_cut_and_its_recovery(virtual_time: VirtualTime) -> None:
    """A 429's cut is not undone by the next reply's headers, and the time spent recovering
    before them still counts."""
    virtual_time.now = 0.0
    state = _RateState(RateLimit(headroom=0.0, increase_per_s=1))
    state.observe(H(quota=10, window_s=1), 0.0)
    _, ticket = state.reserve()
    state.throttled(ticket, None)
    assert state.rate == 7.0
    virtual_time.now = 1.0
    state.observe(H(quota=20, window_s=1), 1.0)
    assert state.rate == 7.0  # not back to 20 at once
    virtual_time.now = 2.0
    state.reserve()
    assert state.rate == pytest.approx(9.0)  # two seconds of recovery at +1/s
