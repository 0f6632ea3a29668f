"""A client-side rate limit that learns from 429s (AIMD) and caps concurrency.

One limiter belongs to one client and is shared by every request it makes (threads for
:class:`~vendorgate.http.VendorClient`, tasks for
:class:`~vendorgate.http.AsyncVendorClient`). Requests are spaced evenly at the current
rate, a little under the configured one (``headroom``), and the spacing is enforced on
actual send times: a sleep that woke up late, or a request that reached the socket late
(httpx reports that moment through its ``trace`` extension), pushes the next ones back.

A 429 cuts the rate (multiplicative decrease, at most once per batch of requests in
flight), pauses every request for the server's ``Retry-After``, and lowers the ceiling
the rate may recover to a little under the rate that drew it; each second without a 429
adds ``increase_per_s`` back (additive increase), while the ceiling itself creeps back up
to the configured rate much more slowly. Without a configured rate nothing is paced until
a 429 arrives; the rate the client was sending at then becomes the starting point.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vendorgate import _validate as check

if TYPE_CHECKING:
    from collections.abc import Mapping

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
            fifth of ``requests_per_s`` (or of the learned rate).
        min_requests_per_s: Floor under which a 429 never pushes the rate.
        headroom: Fraction under ``requests_per_s`` actually paced at (default 5 %), so
            that the jitter of real send times does not trip a strict vendor limit.
    """

    requests_per_s: float | None = None
    max_concurrency: int | None = None
    adaptive: bool = True
    decrease_factor: float = 0.7
    increase_per_s: float | None = None
    min_requests_per_s: float = 0.2
    headroom: float = 0.05

    def __post_init__(self) -> None:
        for name in ("requests_per_s", "increase_per_s"):
            if getattr(self, name) is not None:
                check.number(
                    getattr(self, name), name, minimum=0, min_inclusive=False, or_none=True
                )
        if self.max_concurrency is not None:
            check.integer(self.max_concurrency, "max_concurrency", or_none=True)
        check.number(
            self.decrease_factor,
            "decrease_factor",
            minimum=0,
            maximum=1,
            min_inclusive=False,
            max_inclusive=False,
            message="must be between 0 and 1",
        )
        check.number(self.min_requests_per_s, "min_requests_per_s", minimum=0, min_inclusive=False)
        check.number(
            self.headroom,
            "headroom",
            minimum=0,
            maximum=1,
            max_inclusive=False,
            message="must be a fraction in [0, 1)",
        )

    def to_mapping(self) -> dict[str, Any]:
        """The settings that differ from the defaults, as plain JSON."""
        from vendorgate._mapping import dataclass_to_mapping

        return dataclass_to_mapping(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, field: str = "rate_limit") -> RateLimit:
        """Rebuild a limit from :meth:`to_mapping` output; errors name ``rate_limit.<key>``."""
        from vendorgate._mapping import dataclass_from_mapping

        return dataclass_from_mapping(cls, data, field=field)

    @property
    def paced_requests_per_s(self) -> float | None:
        """The rate requests are actually spaced at: ``requests_per_s * (1 - headroom)``."""
        if self.requests_per_s is None:
            return None
        return self.requests_per_s * (1.0 - self.headroom)


#: After a 429 the rate recovers to at most this fraction of the rate that drew it.
_CEILING_CUT = 0.95
#: Bookings used to estimate the rate a client without ``requests_per_s`` was sending at.
_RECENT_SENDS = 32


class _RateState:
    """The shared, lock-protected pacing state (clock: ``time.monotonic``)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.configured: float | None = limit.paced_requests_per_s
        self.rate: float | None = self.configured
        self._lock = threading.Lock()
        self._next_free = 0.0
        self._last_sent = -1e9
        self._paused_until = 0.0
        self._issued = 0
        self._decrease_ticket = 0
        self._last_update = time.monotonic()
        self._ceiling: float | None = self.configured
        self._recent: deque[float] = deque(maxlen=_RECENT_SENDS)
        self.throttles = 0

    def _recover(self, now: float) -> None:
        # time spent paused by a Retry-After is not time "without a 429": no recovery
        dt = now - max(self._last_update, min(self._paused_until, now))
        self._last_update = now
        if self.rate is None or dt <= 0:
            return
        step = self.limit.increase_per_s or max(1.0, (self._ceiling or self.rate) / 5.0)
        if self._ceiling is not None:
            # a ceiling lowered by 429s creeps back up 100x slower than the rate recovers:
            # to the configured rate, or without bound for a learned limit (probing)
            cap = self.configured if self.configured is not None else float("inf")
            if self._ceiling < cap:
                self._ceiling = min(cap, self._ceiling + step * dt / 100.0)
            self.rate = min(self._ceiling, self.rate + step * dt)
        else:
            self.rate += step * dt

    def reserve(self) -> tuple[float, int]:
        """Book the next slot; return ``(wait_s, ticket)`` (tickets number the bookings)."""
        with self._lock:
            now = time.monotonic()
            self._recover(now)
            slot = max(now, self._paused_until)
            if self.rate is not None:
                slot = max(slot, self._next_free)
                self._next_free = slot + 1.0 / self.rate
            self._recent.append(slot)
            self._issued += 1
            return slot - now, self._issued

    def sending(self) -> float:
        """Called when a booked request is about to go out: the extra wait it needs.

        Sleeps wake up late and unevenly; spacing is therefore enforced again on the
        actual send times, and a late request pushes the following bookings back.
        """
        with self._lock:
            now = time.monotonic()
            rate = self.rate
            paused = self._paused_until - now
            if paused > 0:
                return paused
            if rate is None:
                return 0.0
            interval = 1.0 / rate
            early = self._last_sent + interval - now
            if early > 0:
                return early
            self._last_sent = now
            self._next_free = max(self._next_free, now + interval)
            return 0.0

    def on_wire(self) -> None:
        """A request is being written to the socket now (after connecting, maybe late):
        space the next ones from this moment."""
        with self._lock:
            now = time.monotonic()
            if self.rate is None or now <= self._last_sent:
                return
            self._last_sent = now
            self._next_free = max(self._next_free, now + 1.0 / self.rate)

    def _observed_rate(self) -> float | None:
        """Requests per second over the last bookings (``None``: too few to tell)."""
        recent = self._recent
        if len(recent) < 4:
            return None
        span = recent[-1] - recent[0]
        return (len(recent) - 1) / span if span > 0 else None

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
            observed = self._observed_rate()
            if self.rate is None and observed is None:
                return  # too few requests to learn a rate from: the pause is enough
            current = self.rate if self.rate is not None else observed
            assert current is not None
            # 429s at this rate: from now on aim a little lower than where they came from
            cut = max(self.limit.min_requests_per_s, current * _CEILING_CUT)
            self._ceiling = cut if self._ceiling is None else min(self._ceiling, cut)
            self.rate = max(self.limit.min_requests_per_s, current * self.limit.decrease_factor)
            self._decrease_ticket = self._issued
            self._next_free = max(self._next_free, self._paused_until)


class _Limiter:
    """What both limiters share: the pacing state and how it learns from 429s."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.state = _RateState(limit)

    @property
    def current_rate(self) -> float | None:
        """The rate in force now, in requests per second (``None``: unlimited)."""
        return self.state.rate

    def throttled(self, ticket: int, retry_after_s: float | None) -> None:
        """Tell the limiter the request booked with ``ticket`` got a 429."""
        self.state.throttled(ticket, retry_after_s)


class RateLimiter(_Limiter):
    """Thread-safe limiter for the sync client."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(limit)
        n = limit.max_concurrency
        self._sem = threading.BoundedSemaphore(n) if n else None

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
            state = self._limiter.state
            wait, self.ticket = state.reserve()
            while True:
                if wait > 0:
                    time.sleep(wait)
                wait = state.sending()
                if wait <= 0:
                    break
        except BaseException:
            if self._limiter._sem is not None:
                self._limiter._sem.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._limiter._sem is not None:
            self._limiter._sem.release()


class AsyncRateLimiter(_Limiter):
    """asyncio limiter for the async client (one event loop)."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(limit)
        n = limit.max_concurrency
        self._sem = asyncio.Semaphore(n) if n else None

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
            state = self._limiter.state
            wait, self.ticket = state.reserve()
            while True:
                if wait > 0:
                    await asyncio.sleep(wait)
                wait = state.sending()
                if wait <= 0:
                    break
        except BaseException:
            if self._limiter._sem is not None:
                self._limiter._sem.release()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._limiter._sem is not None:
            self._limiter._sem.release()
