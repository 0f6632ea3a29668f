"""Fixtures shared by the core tests: virtual time for the tests of waits."""

from __future__ import annotations

import time

import pytest


class VirtualTime:
    """A monotonic clock that only moves when code sleeps (or a test advances it).

    Every ``time.sleep`` is recorded, so a test asserts the waits a mechanism asked for
    exactly, without sleeping and without wall-clock tolerances.
    """

    def __init__(self, start: float | None = None) -> None:
        # Far below the real clock: code that still reads the real ``time.monotonic``
        # (say, a default argument bound at import) then compares against virtual
        # deadlines long past and fails on every machine, not only on one whose uptime
        # happens to pass the virtual start (as CI's did).
        self.now = time.monotonic() - 1_000_000.0 if start is None else start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    """``time.monotonic`` and ``time.sleep`` replaced by a recording virtual clock.

    For single-threaded tests against ``httpx.MockTransport`` only: a real server thread
    would see the virtual clock too.
    """
    clock = VirtualTime()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    return clock
