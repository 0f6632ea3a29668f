"""Every Retry-After form, table-driven and exact: how long a client pauses after a 429/503.

Delay-seconds (with spaces, a sign, a fraction, an exponent), HTTP-dates in the future,
the past and with the ``-0000`` zone (read as GMT whatever the machine's time zone), and
what is no delay at all (the backoff then applies).
"""

from __future__ import annotations

import email.utils
import time

import pytest

from vendorgate._retry import parse_retry_after

NOW = 1_700_000_000.0


def _date(offset_s: float, zone: str = "GMT") -> str:
    return email.utils.formatdate(NOW + offset_s, usegmt=True).removesuffix("GMT") + zone


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("\t120\r\n", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("+5", 5.0),
        ("1e3", 1000.0),
        ("-3", 0.0),  # lenient: a negative delay means "now"
        ("-0.5", 0.0),
        (_date(20), 20.0),
        (" " + _date(90) + " ", 90.0),
        (_date(20, "+0000"), 20.0),
        (_date(-20), 0.0),  # a moment already past: retry now
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_a_delay_is_read_exactly(value: str, seconds: float) -> None:
    """Each form is the exact number of seconds from ``now``."""
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "soon",
        "nan",
        "-inf",
        "Wed, 32 Oct 2015 07:28:00 GMT",  # no such day
        "Mon, 1 Jan 10000000000000000000 00:00:00 GMT",  # a year too large for the clock
        "2015-10-21T07:28:00Z",  # ISO 8601 is not an HTTP-date
    ],
)
def test_what_is_no_delay_gives_none(value: str | None) -> None:
    """Unreadable values are ignored (never an exception out of the retry loop)."""
    assert parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize("zone", ["UTC0", "EST+5EDT,M3.2.0,M11.1.0", "IST-5:30"])
def test_a_minus_zero_date_is_gmt_in_every_local_time_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-0000`` carries no zone; it is still GMT on a worker whose local zone is not UTC."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert parse_retry_after(_date(20, "-0000"), now=NOW) == 20.0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_without_now_a_date_counts_from_the_current_time() -> None:
    """The default ``now`` is the wall clock: a date 100 s ahead is about 100 s away."""
    ahead = email.utils.formatdate(time.time() + 100, usegmt=True)
    seconds = parse_retry_after(ahead)
    assert seconds is not None
    assert 98.0 <= seconds <= 100.0
