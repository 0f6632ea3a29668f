"""The heartbeat that keeps a refresh lock while its holder fetches: how often it renews,
with what TTL, what a failed renewal and a lapsed lock do, and that it stops.

The heartbeat's waits are scripted (each wait records its period and says "renew now"),
so the tests do not depend on how fast this machine runs a thread.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext

import pytest

from vendorgate import CacheError
from vendorgate.cache import RefreshLock
from vendorgate.cache._cache import _Heartbeat


class _ScriptedStop(threading.Event):
    """The heartbeat's stop event: the first ``periods`` waits end at once as if their
    period had passed (record it); later waits block until the heartbeat is stopped."""

    def __init__(self, periods: int) -> None:
        super().__init__()
        self.periods = periods
        self.waits: list[float | None] = []
        self.idle = threading.Event()  # the scripted periods are over

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) <= self.periods:
            return False
        self.idle.set()
        return super().wait(10)


class _Renewing(RefreshLock):
    """Answers each renewal from a script: ``True``, ``False`` or an exception."""

    name = "recording"
    renews = True

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers = list(answers)
        self.renewed: list[tuple[str, float]] = []

    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        return nullcontext(True)

    def renew(self, key: str, *, ttl_s: float) -> bool:
        self.renewed.append((key, ttl_s))
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        return answer


def _run(lock: RefreshLock, periods: int, ttl_s: float = 90.0) -> _ScriptedStop:
    heartbeat = _Heartbeat(lock, "vendor:client", ttl_s)
    stop = heartbeat._stop = _ScriptedStop(periods)
    heartbeat.start()
    thread = heartbeat._thread
    assert thread is not None
    # named in thread dumps; never keeps the process alive by itself
    assert (thread.name, thread.daemon) == ("vendorgate-lock-heartbeat", True)
    for _ in range(1000):  # it runs its periods, then waits to be stopped (or ends)
        thread.join(0.01)
        if stop.idle.is_set() or not thread.is_alive():
            break
    heartbeat.stop()
    return stop


def test_the_lock_is_renewed_every_third_of_its_ttl_with_the_whole_ttl() -> None:
    lock = _Renewing()
    stop = _run(lock, periods=3, ttl_s=90.0)
    assert stop.waits[:4] == [30.0, 30.0, 30.0, 30.0]
    assert lock.renewed == [("vendor:client", 90.0)] * 3


def test_a_failed_renewal_is_logged_at_debug_and_the_next_period_renews_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lock = _Renewing(CacheError("the lock server is gone"), True)
    with caplog.at_level(logging.DEBUG, logger="vendorgate.cache"):
        _run(lock, periods=2)
    assert len(lock.renewed) == 2
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, "token cache: renewing the recording lock failed (the lock server is gone)")
    ]


def test_a_lock_that_lapsed_is_reported_once_and_no_longer_renewed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another worker may hold the lock now: renewing it would extend theirs."""
    lock = _Renewing(False)
    with caplog.at_level(logging.DEBUG, logger="vendorgate.cache"):
        stop = _run(lock, periods=3)
    assert len(lock.renewed) == 1
    assert len(stop.waits) == 1  # the heartbeat ended at the lapse, not at its stop
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            "token cache: the recording lock of a key lapsed while its token was being "
            "fetched; another worker may fetch too (raise timing.lock_ttl_s?)",
        )
    ]


def test_a_stopped_heartbeat_renews_no_more() -> None:
    lock = _Renewing()
    heartbeat = _Heartbeat(lock, "vendor:client", 90.0)
    heartbeat.start()
    heartbeat.stop()  # before its first period ends
    assert heartbeat._thread is not None
    assert not heartbeat._thread.is_alive()
    assert lock.renewed == []
