"""The httpx timeouts of one attempt near the end of the retry budget.

An attempt may not outlast the call's budget: each phase is the configured timeout or
the time left, whichever is shorter, and a phase without a limit gets the time left.
The phases that fit keep their own values (a short connect timeout stays short).
"""

from __future__ import annotations

import pytest

from vendorgate._retry import attempt_timeout


def test_each_phase_is_capped_at_the_time_left_and_no_more() -> None:
    """10 s left: a 30 s read becomes 10 s, 5 s connect and pool stay 5 s, no write
    limit becomes 10 s."""
    base = {"connect": 5.0, "read": 30.0, "write": None, "pool": 5}
    assert attempt_timeout(base, 110.0, now=100.0) == {
        "connect": 5.0,
        "read": 10.0,
        "write": 10.0,
        "pool": 5.0,
    }


def test_without_configured_timeouts_every_phase_gets_the_time_left() -> None:
    """A request built without timeouts still may not outlast the budget."""
    assert attempt_timeout({}, 110.0, now=100.0) == {
        "connect": 10.0,
        "read": 10.0,
        "write": 10.0,
        "pool": 10.0,
    }


def test_a_spent_budget_leaves_a_millisecond_not_zero_or_less() -> None:
    """Past the deadline each phase is 1 ms, never zero or negative: the attempt times
    out at once."""
    assert attempt_timeout({"connect": 5.0, "read": None}, 100.0, now=100.5) == {
        "connect": 0.001,
        "read": 0.001,
    }


@pytest.mark.parametrize("configured", [0.5, 2.0])
def test_a_phase_shorter_than_the_time_left_is_kept(configured: float) -> None:
    """A phase that fits in the time left keeps its configured value exactly."""
    assert attempt_timeout({"read": configured}, 103.0, now=100.0) == {"read": configured}
