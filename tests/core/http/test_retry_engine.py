"""The one retry engine: Retry-After forms, one cap, one budget, nested deadlines."""

from __future__ import annotations

import email.utils
import logging
import math

import pytest

from vendorgate import ConfigurationError, ServerError
from vendorgate._retry import Retrier, Retry, RetryPolicy, current_deadline, parse_retry_after
from vendorgate.http import RateLimit

NOW = 1_700_000_000.0
LOG = logging.getLogger("vendorgate.test.retry")


class FakeClock:
    """A monotonic clock that only moves when the engine sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _date(offset_s: float, zone: str) -> str:
    """An HTTP-date ``offset_s`` after NOW, ending in ``zone``."""
    text = email.utils.formatdate(NOW + offset_s, usegmt=True)
    return text.removesuffix("GMT") + zone


@pytest.mark.parametrize("zone", ["GMT", "+0000", "-0000", "UTC"])
def test_retry_after_http_date_in_every_utc_spelling(zone: str) -> None:
    """An HTTP-date ending GMT, +0000, -0000 or UTC means the same moment."""
    assert parse_retry_after(_date(20, zone), now=NOW) == pytest.approx(20)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "Infinity", "soon", ""])
def test_retry_after_that_is_no_delay_is_ignored(value: str) -> None:
    """NaN, infinity and words are not delays: the backoff applies instead."""
    assert parse_retry_after(value, now=NOW) is None


def test_retry_after_is_returned_uncapped() -> None:
    """The parser returns what the server asked; the policy caps the wait."""
    assert parse_retry_after("120") == 120.0
    assert RetryPolicy().wait_s(1, 120.0) == 30.0


def _server_error() -> ServerError:
    return ServerError("boom", status=503, vendor="v", url="https://x.test/a")


def _retrier(policy: RetryPolicy, clock: FakeClock) -> Retrier:
    return Retrier(policy, vendor="v", logger=LOG, clock=clock, sleep=clock.sleep)


def test_retry_after_wins_over_backoff_within_the_cap() -> None:
    """The wait is the server's Retry-After, capped at wait_max_s."""
    clock = FakeClock()
    calls: list[float] = []

    def once(deadline: float) -> str:
        calls.append(deadline)
        if len(calls) < 3:
            raise Retry(_server_error(), retry_after_s=[7.0, 500.0][len(calls) - 1], cause="x")
        return "ok"

    policy = RetryPolicy(attempts=3, wait_max_s=30, timeout_s=100)
    assert _retrier(policy, clock).run(once, method="GET", url="u") == "ok"
    assert clock.sleeps == [7.0, 30.0]


def test_no_retry_whose_wait_ends_past_the_budget() -> None:
    """A retry that would end past timeout_s is not made: the typed error comes at once."""
    clock = FakeClock()
    calls = 0

    def once(deadline: float) -> str:
        nonlocal calls
        calls += 1
        raise Retry(_server_error(), retry_after_s=20.0, cause="status 503")

    policy = RetryPolicy(attempts=5, wait_max_s=30, timeout_s=10)
    with pytest.raises(ServerError):
        _retrier(policy, clock).run(once, method="GET", url="u")
    assert calls == 1
    assert clock.sleeps == []


def test_a_nested_call_keeps_within_the_outer_budget() -> None:
    """A call retried inside another (a token fetch inside an API call) gets the outer
    call's deadline when that ends sooner than its own budget."""
    clock = FakeClock()
    seen: list[float | None] = []

    def inner(deadline: float) -> str:
        seen.append(deadline)
        seen.append(current_deadline())
        return "token"

    def outer(deadline: float) -> str:
        seen.append(deadline)
        return _retrier(RetryPolicy(timeout_s=60), clock).run(inner, method="POST", url="t")

    _retrier(RetryPolicy(timeout_s=5), clock).run(outer, method="GET", url="a")
    assert seen == [105.0, 105.0, 105.0]
    assert current_deadline() is None


def test_give_up_says_how_many_attempts_and_keeps_the_details() -> None:
    """The final error names the attempts and keeps status, vendor and URL."""
    clock = FakeClock()

    def once(deadline: float) -> str:
        raise Retry(_server_error(), cause="status 503")

    policy = RetryPolicy(attempts=3, wait_initial_s=0.01, wait_max_s=0.01)
    with pytest.raises(ServerError, match="gave up after 3 attempts") as info:
        _retrier(policy, clock).run(once, method="GET", url="u")
    assert (info.value.status, info.value.vendor, info.value.url) == (503, "v", "https://x.test/a")
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("timeout_s", {"timeout_s": True}),
        ("timeout_s", {"timeout_s": math.nan}),
        ("timeout_s", {"timeout_s": math.inf}),
        ("wait_max_s", {"wait_max_s": math.inf}),
        ("wait_initial_s", {"wait_initial_s": "1"}),
        ("wait_jitter_s", {"wait_jitter_s": math.nan}),
        ("attempts", {"attempts": True}),
        ("retry_statuses", {"retry_statuses": frozenset({True})}),
        ("retry_methods", {"retry_methods": frozenset({""})}),
    ],
)
def test_retry_policy_refuses_what_other_configs_refuse(
    field: str, kwargs: dict[str, object]
) -> None:
    """RetryPolicy refuses booleans, NaN and infinity as TokenConfig does, naming the field."""
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("requests_per_s", {"requests_per_s": math.inf}),
        ("requests_per_s", {"requests_per_s": math.nan}),
        ("max_concurrency", {"max_concurrency": True}),
        ("decrease_factor", {"decrease_factor": math.nan}),
        ("min_requests_per_s", {"min_requests_per_s": math.inf}),
        ("headroom", {"headroom": math.nan}),
    ],
)
def test_rate_limit_refuses_nan_and_infinity(field: str, kwargs: dict[str, object]) -> None:
    """RateLimit refuses NaN, infinity and booleans, naming the field."""
    with pytest.raises(ConfigurationError) as info:
        RateLimit(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
