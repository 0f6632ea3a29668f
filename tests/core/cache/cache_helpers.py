"""Helpers of the cache tests (importable from test modules and worker subprocesses)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from vendorgate.tokens import Token


class FakeClock:
    """A settable epoch clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_token(now: float, lifetime_s: float = 100.0, *, refresh: str | None = None) -> Token:
    """A token with a unique access token issued at ``now``."""
    return Token(
        access_token=f"at-{uuid.uuid4().hex}-secretvalue",
        expires_at=now + lifetime_s,
        issued_at=now,
        refresh_token=refresh,
    )


class CountingFetch:
    """A fetch function that counts calls and records the previous tokens it was given."""

    def __init__(self, now: Callable[[], float], lifetime_s: float = 100.0) -> None:
        self.now = now
        self.lifetime_s = lifetime_s
        self.calls = 0
        self.previous: list[Token | None] = []

    def __call__(self, previous: Token | None) -> Token:
        self.calls += 1
        self.previous.append(previous)
        return make_token(self.now(), self.lifetime_s)
