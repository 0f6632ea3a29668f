"""A client-side rate limit that learns from 429s (AIMD) and caps concurrency.

One limiter belongs to one client and is shared by every request it makes (threads for
:class:`~vendorgate.http.VendorClient`, tasks for
:class:`~vendorgate.http.AsyncVendorClient`). Requests are spaced evenly at the current
rate; a 429 cuts the rate (multiplicative decrease, at most once per batch of requests
in flight) and pauses every request for the server's ``Retry-After``; each second without
a 429 adds back ``increase_per_s`` requests per second (additive increase) until the
configured rate is reached again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

from vendorgate._errors import ConfigurationError

__all__ = ["AsyncRateLimiter", "RateLimit", "RateLimiter"]


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """Requests per second and concurrency allowed for one vendor client.

    Attributes:
        requests_per_s: Steady request rate; ``None`` for no rate limit until a 429 is
            seen (the rate is then learned from the rate observed when it came).
        max_concurrency: Most requests in flight at once; ``None`` for no cap.
        adaptive: Learn from 429s (slow down, then recover).
        decrease_factor: Rate multiplier applied on a 429 (``0 < f < 1``).
        increase_per_s: Requests/s added back per second without 429s; by default a
            tenth of ``requests_per_s`` (or of the learned rate).
        min_requests_per_s: Floor under which a 429 never pushes the rate.
    """

    requests_per_s: float | None = None
    max_concurrency: int | None = None
    adaptive: bool = True
    decrease_factor: float = 0.7
    increase_per_s: float | None = None
    min_requests_per_s: float = 0.2

    def __post_init__(self) -> None:
        if self.requests_per_s is not None and not self.requests_per_s > 0:
            raise ConfigurationError("must be > 0 or None", field="requests_per_s")
        if self.max_concurrency is not None and (
            not isinstance(self.max_concurrency, int) or self.max_concurrency < 1
        ):
            raise ConfigurationError("must be an integer >= 1 or None", field="max_concurrency")
        if not 0 < self.decrease_factor < 1:
            raise ConfigurationError("must be between 0 and 1", field="decrease_factor")
        if self.increase_per_s is not None and not self.increase_per_s > 0:
            raise ConfigurationError("must be > 0 or None", field="increase_per_s")
        if not self.min_requests_per_s > 0:
            raise ConfigurationError("must be > 0", field="min_requests_per_s")


class _RateState:
    """The shared, lock-protected pacing state (clock: ``time.monotonic``)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.rate: float | None = limit.requests_per_s
        self._lock = threading.Lock()
        self._next_free = 0.0
        self._paused_until = 0.0
        self._issued = 0
        self._decrease_ticket = 0
        self._last_update = time.monotonic()
        self._ceiling: float | None = limit.requests_per_s
        self._recent: deque[float] = deque()
        self.throttles = 0

    def _recover(self, now: float) -> None:
        dt = now - self._last_update
        self._last_update = now
        if self.rate is None or dt <= 0:
            return
        step = self.limit.increase_per_s or max(1.0, (self._ceiling or self.rate) / 10.0)
        self.rate += step * dt
        if self._ceiling is not None and self.rate >= self._ceiling:
            self.rate = self._ceiling
            if self.limit.requests_per_s is None:  # learned limit fully recovered
                self.rate = self._ceiling = None

    def reserve(self) -> tuple[float, int]:
        """Book the next slot; return ``(wait_s, ticket)`` (tickets number the bookings)."""
        with self._lock:
            now = time.monotonic()
            self._recover(now)
            slot = max(now, self._paused_until)
            if self.rate is not None:
                slot = max(slot, self._next_free)
                self._next_free = slot + 1.0 / self.rate
            recent = self._recent
            recent.append(slot)
            while recent and recent[0] < slot - 1.0:
                recent.popleft()
            self._issued += 1
            return slot - now, self._issued

    def throttled(self, ticket: int, retry_after_s: float | None) -> None:
        """Record a 429 for the request booked with ``ticket``."""
        with self._lock:
            now = time.monotonic()
            self.throttles += 1
            if retry_after_s:
                self._paused_until = max(self._paused_until, now + retry_after_s)
            if not self.limit.adaptive or ticket <= self._decrease_ticket:
                return  # already slowed down for this batch of requests
            self._recover(now)
            observed = float(len(self._recent))
            if self.rate is None and observed < 2:
                return  # too few requests to learn a rate from: the pause is enough
            current = self.rate if self.rate is not None else observed
            if self._ceiling is None:
                self._ceiling = observed
            self.rate = max(self.limit.min_requests_per_s, current * self.limit.decrease_factor)
            self._decrease_ticket = self._issued
            self._next_free = max(self._next_free, self._paused_until)


class RateLimiter:
    """Thread-safe limiter for the sync client."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.state = _RateState(limit)
        n = limit.max_concurrency
        self._sem = threading.BoundedSemaphore(n) if n else None

    @property
    def current_rate(self) -> float | None:
        """The rate in force now, in requests per second (``None``: unlimited)."""
        return self.state.rate

    def throttled(self, ticket: int, retry_after_s: float | None) -> None:
        """Tell the limiter the request booked with ``ticket`` got a 429."""
        self.state.throttled(ticket, retry_after_s)

    def slot(self) -> _SyncSlot:
        """Context manager: wait for a slot, hold a concurrency permit while inside."""
        return _SyncSlot(self)


class _SyncSlot:
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self.ticket = 0

    def __enter__(self) -> _SyncSlot:
        if self._limiter._sem is not None:
            self._limiter._sem.acquire()
        try:
            wait, self.ticket = self._limiter.state.reserve()
            if wait > 0:
                time.sleep(wait)
        except BaseException:
            if self._limiter._sem is not None:
                self._limiter._sem.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._limiter._sem is not None:
            self._limiter._sem.release()


class AsyncRateLimiter:
    """asyncio limiter for the async client (one event loop)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.state = _RateState(limit)
        n = limit.max_concurrency
        self._sem = asyncio.Semaphore(n) if n else None

    @property
    def current_rate(self) -> float | None:
        """The rate in force now, in requests per second (``None``: unlimited)."""
        return self.state.rate

    def throttled(self, ticket: int, retry_after_s: float | None) -> None:
        """Tell the limiter the request booked with ``ticket`` got a 429."""
        self.state.throttled(ticket, retry_after_s)

    def slot(self) -> _AsyncSlot:
        """Async context manager: wait for a slot, hold a concurrency permit inside."""
        return _AsyncSlot(self)


class _AsyncSlot:
    def __init__(self, limiter: AsyncRateLimiter) -> None:
        self._limiter = limiter
        self.ticket = 0

    async def __aenter__(self) -> _AsyncSlot:
        if self._limiter._sem is not None:
            await self._limiter._sem.acquire()
        try:
            wait, self.ticket = self._limiter.state.reserve()
            if wait > 0:
                await asyncio.sleep(wait)
        except BaseException:
            if self._limiter._sem is not None:
                self._limiter._sem.release()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._limiter._sem is not None:
            self._limiter._sem.release()
