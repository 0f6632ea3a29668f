"""Fixtures for the HTTP client tests."""

from __future__ import annotations

import pytest

from vendorgate.http import retry_testing


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture
def no_backoff():  # type: ignore[no-untyped-def]
    """vendorgate's retry testing mode: no waits, at most 10 attempts per request."""
    with retry_testing(attempts=10):
        yield


class SleepRecorder:
    """Every ``time.sleep`` of the test's own thread, with the module that asked for it.

    The sleeps still happen (a real server runs in another thread and must not see a
    virtual clock): the test asserts the waits the client asked for, not wall-clock time.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def by(self, module: str) -> list[float]:
        """The sleeps asked for by code in ``module`` (say ``"vendorgate._retry"``)."""
        return [seconds for caller, seconds in self.calls if caller == module]

    @property
    def seconds(self) -> list[float]:
        """Every sleep, in order."""
        return [seconds for _, seconds in self.calls]


@pytest.fixture
def sleep_recorder(monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
    """``time.sleep`` recorded (caller module, seconds) in this thread, still sleeping."""
    import sys
    import threading
    import time

    recorder = SleepRecorder()
    real_sleep = time.sleep
    test_thread = threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() == test_thread:
            caller = sys._getframe(1).f_globals.get("__name__", "?")
            recorder.calls.append((caller, seconds))
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return recorder
