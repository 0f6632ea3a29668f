"""Every rate-limit header form the parser claims to read, table-driven, compared whole.

IETF ``RateLimit-Policy``/``RateLimit`` (the later drafts' structured fields and the
earlier ``limit=``/``100;w=60`` forms), ``RateLimit-Limit/-Remaining/-Reset`` and the
``X-RateLimit-*`` family, with a reset given as seconds, a Unix time or a Unix time in
milliseconds. What a reply's headers said decides how fast the client may go: each form
is pinned by the whole :class:`LimitHeaders` it gives.
"""

from __future__ import annotations

import pytest

from vendorgate.http import parse_limit_headers
from vendorgate.http._ratelimit import LimitHeaders

NOW = 1_800_000_000.0

H = LimitHeaders

CASES: list[tuple[str, list[tuple[str, str]], LimitHeaders | None]] = [
    # -- RateLimit-Policy: the strictest policy (quota per second) wins, in any order
    (
        "policies, strictest last",
        [("RateLimit-Policy", '"burst";q=100;w=60, "day";q=1000;w=86400')],
        H(quota=1000, window_s=86400),
    ),
    (
        "policies, strictest first",
        [("RateLimit-Policy", '"slow";q=10;w=10, "fast";q=100;w=10')],
        H(quota=10, window_s=10),
    ),
    (
        "policies compared per second, not per window",
        [("RateLimit-Policy", '"a";q=50;w=10, "b";q=20;w=1')],
        H(quota=50, window_s=10),
    ),
    ("policy without a window", [("RateLimit-Policy", '"d";q=7')], H(quota=7)),
    ("policies without windows: the smaller", [("RateLimit-Policy", '"a";q=10, "b";q=15')], H(10)),
    ("policies without windows, smaller last", [("RateLimit-Policy", '"a";q=10, "b";q=8')], H(8)),
    (
        "a policy without a quota is skipped, not the end",
        [("RateLimit-Policy", '"d";w=60, "e";q=5;w=1')],
        H(quota=5, window_s=1),
    ),
    ("earlier draft policy", [("RateLimit-Policy", "100;w=60")], H(quota=100, window_s=60)),
    (
        "policy with spaces and upper-case keys",
        [("RateLimit-Policy", ' "d" ; Q=5 ; W=2 ')],
        H(quota=5, window_s=2),
    ),
    (
        "policy value containing '=' kept whole",
        [("RateLimit-Policy", '"d";q=5;w=1;x="a=b"')],
        H(quota=5, window_s=1),
    ),
    ("policy without a quota says nothing", [("RateLimit-Policy", '"d";w=60')], None),
    ("a nameless policy of only a window", [("RateLimit-Policy", "w=60")], None),
    # -- RateLimit: remaining and reset; the least remaining, the longest reset
    ("later draft fields", [("RateLimit", '"default";r=50;t=30')], H(remaining=50, reset_s=30)),
    (
        "several limits",
        [("RateLimit", '"a";r=5;t=10, "b";r=2;t=30, "c";r=9;t=20')],
        H(remaining=2, reset_s=30),
    ),
    (
        "earlier draft fields in one header",
        [("RateLimit", "limit=100, remaining=50, reset=30")],
        H(quota=100, remaining=50, reset_s=30),
    ),
    (
        "a stated policy wins over the limit= of RateLimit",
        [("RateLimit-Policy", '"p";q=10;w=1'), ("RateLimit", "limit=100, remaining=3")],
        H(quota=10, window_s=1, remaining=3),
    ),
    ("a bad limit= alone says nothing", [("RateLimit", "limit=lots")], None),
    ("only a limit=", [("RateLimit", "limit=100")], H(quota=100)),
    ("unreadable numbers say nothing", [("RateLimit", '"d";r=x;t=-1')], None),
    # -- RateLimit-Limit/-Remaining/-Reset and X-RateLimit-*: the first value counts
    ("x-family", [("X-RateLimit-Limit", "100, 100;w=60")], H(quota=100)),
    ("x-family limit with a window", [("X-RateLimit-Limit", "60;w=60")], H(quota=60)),
    ("x-family, names in any case", [("x-ratelimit-REMAINING", "7, 3")], H(remaining=7)),
    (
        "older draft names",
        [("RateLimit-Limit", "20"), ("RateLimit-Remaining", "4")],
        H(quota=20, remaining=4),
    ),
    (
        "a policy first wins over X-RateLimit-Limit",
        [("RateLimit-Policy", '"p";q=10;w=1'), ("X-RateLimit-Limit", "500")],
        H(quota=10, window_s=1),
    ),
    ("quoted numbers", [("X-RateLimit-Remaining", '"5"')], H(remaining=5)),
    ("nothing remaining is a figure", [("X-RateLimit-Remaining", "0")], H(remaining=0)),
    ("a fraction of a second", [("RateLimit", '"d";r=0;t=0.5')], H(remaining=0, reset_s=0.5)),
    ("a negative count says nothing", [("X-RateLimit-Remaining", "-1")], None),
    ("infinity says nothing", [("X-RateLimit-Limit", "inf")], None),
    ("not a number says nothing", [("X-RateLimit-Limit", "nan")], None),
    # -- resets: seconds, Unix seconds, Unix milliseconds; a past moment is "now"
    ("reset in seconds", [("X-RateLimit-Reset", "30")], H(reset_s=30)),
    ("the first of several resets", [("X-RateLimit-Reset", "30, 60")], H(reset_s=30)),
    ("reset as a Unix time", [("X-RateLimit-Reset", "1800000030")], H(reset_s=30)),
    ("reset as a Unix time in ms", [("X-RateLimit-Reset", "1800000030000")], H(reset_s=30)),
    ("reset as a past Unix time", [("RateLimit-Reset", "1799999990")], H(reset_s=0)),
    ("reset as a past Unix time in ms", [("X-RateLimit-Reset", "1799999990000")], H(reset_s=0)),
    # -- nothing about rate limits
    ("no rate-limit header", [("Content-Type", "application/json")], None),
    ("an unknown ratelimit header", [("X-RateLimit-Used", "5")], None),
]


@pytest.mark.parametrize(("headers", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_header_form_is_read_whole(
    headers: list[tuple[str, str]], expected: LimitHeaders | None
) -> None:
    """Each form gives exactly these quota, window, remaining and reset (or nothing)."""
    raw = [(name.encode(), value.encode("latin-1")) for name, value in headers]
    assert parse_limit_headers(raw, now_epoch=NOW) == expected


def test_a_unix_time_reset_is_counted_from_the_clock_by_default() -> None:
    """Without ``now_epoch`` a Unix-time reset is counted from the current time."""
    import time

    raw = [(b"X-RateLimit-Reset", str(int(time.time()) + 100).encode())]
    found = parse_limit_headers(raw)
    assert found is not None
    assert found.reset_s is not None
    assert 98 <= found.reset_s <= 100
