"""A client-side rate limit that learns from 429s (AIMD) and caps concurrency.

One limiter belongs to one client and is shared by every request it makes (threads for
:class:`~vendorgate.http.VendorClient`, tasks for
:class:`~vendorgate.http.AsyncVendorClient`). Requests are spaced evenly at the current
rate, a little under the configured one (``headroom``), and the spacing is enforced on
actual send times: a sleep that woke up late, or a request that reached the socket later
than usual (httpx reports that moment through its ``trace`` extension), pushes the next
ones back. Late wake-ups do not add up, though: the next request may then follow after a
little less than the interval (half the headroom; never closer than the vendor's own
interval), so a client whose sleeps wake up late keeps close to its schedule; and the
usual time from a slot to the socket (httpx's own work) is expected of every request, not
added to each gap.

A 429 cuts the rate (multiplicative decrease, at most once per batch of requests in
flight), pauses every request for the server's ``Retry-After``, and lowers the ceiling
the rate may recover to a little under the rate that drew it; each second without a 429
adds ``increase_per_s`` back (additive increase), while the ceiling itself creeps back up
to the configured rate much more slowly. Without a configured rate nothing is paced until
a 429 arrives; the rate the client was sending at then becomes the starting point: the
requests answered in the second before it (a per-second quota), or, with too few of them,
the rate of the last bookings.

Vendors that describe their limit in reply headers are paced on it before any 429
(``use_headers``): the IETF ``RateLimit-Policy``/``RateLimit`` fields (and the older
draft's ``RateLimit-Limit``/``-Remaining``/``-Reset``) and the ``X-RateLimit-Limit``/
``-Remaining``/``-Reset`` family, whose reset is seconds or a Unix time (told apart by
size). The quota per window becomes the paced rate (capped by ``requests_per_s`` when
that is given too), and a reply saying nothing remains pauses every request until the
reset. :func:`parse_limit_headers` is the sans-I/O parser; :meth:`_RateState.replied`
applies what it found.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vendorgate import _validate as check

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["AsyncRateLimiter", "LimitHeaders", "RateLimit", "RateLimiter", "parse_limit_headers"]


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
        use_headers: Pace on the vendor's rate-limit reply headers (IETF ``RateLimit``
            / ``RateLimit-Policy``, ``X-RateLimit-*``) before any 429.
    """

    requests_per_s: float | None = None
    max_concurrency: int | None = None
    adaptive: bool = True
    decrease_factor: float = 0.7
    increase_per_s: float | None = None
    min_requests_per_s: float = 0.2
    headroom: float = 0.05
    use_headers: bool = True

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


#: A reset value above this many seconds is a Unix time, not a delay (about 31 years).
_EPOCH_S = 1e9
#: ... and above this one a Unix time in milliseconds.
_EPOCH_MS = 1e12


@dataclass(frozen=True, slots=True)
class LimitHeaders:
    """What one reply's rate-limit headers said (each part optional).

    Attributes:
        quota: Requests allowed per window (the most restrictive policy when several).
        window_s: The window's length in seconds, when the headers state it.
        remaining: Requests left in the current window.
        reset_s: Seconds until the window resets (or the quota is full again).
    """

    quota: float | None = None
    window_s: float | None = None
    remaining: float | None = None
    reset_s: float | None = None


def _number(text: str) -> float | None:
    text = text.strip().strip('"')
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _members(value: str) -> list[tuple[str, dict[str, str]]]:
    """A structured-field list, loosely: ``item;key=value;key=value, item;...``."""
    out = []
    for member in value.split(","):
        parts = [p.strip() for p in member.split(";")]
        params: dict[str, str] = {}
        item = parts[0]
        if "=" in item and not item.startswith('"'):  # old draft: limit=100, remaining=5
            key, _, val = item.partition("=")
            params[key.strip().lower()] = val
            item = ""
        for part in parts[1:]:
            key, _, val = part.partition("=")
            params[key.strip().lower()] = val
        out.append((item, params))
    return out


def _reset_delay(value: float, now_epoch: float) -> float:
    """A reset given as seconds, a Unix time or a Unix time in ms, as seconds from now."""
    if value > _EPOCH_MS:
        return max(0.0, value / 1000.0 - now_epoch)
    if value > _EPOCH_S:
        return max(0.0, value - now_epoch)
    return value


def parse_limit_headers(
    raw: Iterable[tuple[bytes, bytes]], now_epoch: float | None = None
) -> LimitHeaders | None:
    """Read the rate-limit headers of one reply (``None``: it has none).

    Args:
        raw: The reply's headers as ``(name, value)`` byte pairs (``httpx.Headers.raw``).
        now_epoch: The current Unix time, to turn a reset given as a Unix time into a
            delay (default: ``time.time()``).
    """
    quota = window = remaining = reset = None
    found = False
    for name, value in raw:
        key = name.lower()
        if b"ratelimit" not in key:
            continue
        text = value.decode("latin-1")
        if key == b"ratelimit-policy":
            # "default";q=100;w=60 (later drafts) or 100;w=60 (earlier ones): strictest wins
            for item, params in _members(text):
                q = _number(params["q"]) if "q" in params else _number(item)
                w = _number(params["w"]) if "w" in params else None
                if q is None:
                    continue
                if quota is None or (q / (w or 1.0)) < (quota / (window or 1.0)):
                    quota, window = q, w
                found = True
        elif key == b"ratelimit":
            # "default";r=50;t=30 (later drafts) or limit=100, remaining=50, reset=30
            for _item, params in _members(text):
                r = params.get("r", params.get("remaining"))
                t = params.get("t", params.get("reset"))
                lim = params.get("limit")
                if r is not None and (n := _number(r)) is not None:
                    remaining = n if remaining is None else min(remaining, n)
                    found = True
                if t is not None and (n := _number(t)) is not None:
                    reset = n if reset is None else max(reset, n)
                    found = True
                if lim is not None and quota is None:
                    quota = _number(lim)
                    found = found or quota is not None
        elif key in (b"x-ratelimit-limit", b"ratelimit-limit"):
            n = _number(text.split(",")[0].split(";")[0])
            if n is not None and quota is None:
                quota, found = n, True
        elif key in (b"x-ratelimit-remaining", b"ratelimit-remaining"):
            n = _number(text.split(",")[0])
            if n is not None:
                remaining, found = n, True
        elif key in (b"x-ratelimit-reset", b"ratelimit-reset"):
            n = _number(text.split(",")[0])
            if n is not None:
                now = time.time() if now_epoch is None else now_epoch
                reset, found = _reset_delay(n, now), True
    if not found:
        return None
    return LimitHeaders(quota=quota, window_s=window, remaining=remaining, reset_s=reset)


#: After a 429 the rate recovers to at most this fraction of the rate that drew it.
_CEILING_CUT = 0.95
#: Bookings used to estimate the rate a client without ``requests_per_s`` was sending at.
_RECENT_SENDS = 32
#: Requests assumed in flight (sent, not yet counted by the vendor) when pacing on headers.
_IN_FLIGHT_MARGIN = 16
#: Replies remembered while learning a limit from 429s (their count in the last second).
_ANSWERED = 4096
#: Send-to-wire delays the usual one is the least of.
_WIRE_DELAYS = 16


class _RateState:
    """The shared, lock-protected pacing state (clock: ``time.monotonic``)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.configured: float | None = limit.paced_requests_per_s
        self.rate: float | None = self.configured
        self._lock = threading.Lock()
        # "never": time.monotonic() has no defined zero, so no sentinel may assume one
        self._next_free = -math.inf
        self._last_sent = -math.inf
        self._last_wire = -math.inf
        # a late send may be followed sooner than the paced interval (catching up with
        # the schedule), but never sooner than this fraction of it: half the headroom is
        # spent on catching up, half stays as a margin for jitter (1 with no headroom)
        headroom = limit.headroom
        self._catch_up = (1.0 - headroom) / (1.0 - headroom / 2.0)
        # the usual time from "may send" to "on the wire" (httpx's own work before the
        # headers are written): the least of the last few, so one slow connect does not
        # count as usual (and none is usual before that many were seen)
        self._wire_delays: deque[float] = deque([0.0] * _WIRE_DELAYS, maxlen=_WIRE_DELAYS)
        self._wire_delay = 0.0
        self._paused_until = -math.inf
        self._issued = 0
        self._decrease_ticket = 0
        self._last_update = time.monotonic()
        self._ceiling: float | None = self.configured
        self._recent: deque[float] = deque(maxlen=_RECENT_SENDS)
        self.throttles = 0
        # learning a limit nobody told: when replies came back fine (before the first 429)
        self._answered: deque[float] = deque(maxlen=_ANSWERED)
        # pacing on the vendor's headers: the rate they state, the longest reset seen
        self.told: float | None = self.configured
        self.header_rate: float | None = None
        self._window_guess = 0.0
        # ... and how many requests they said remain, how many went out since
        self._remaining = 0.0
        self._sent_since = 0
        self._tat = -math.inf  # theoretical time of the next send (GCRA), header pacing only

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
            if self.rate is not None:  # nothing to recover while unpaced
                self._recover(now)
            slot = max(now, self._paused_until)
            if self.rate is not None and self.header_rate is None:
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
            if self.header_rate is not None:
                return self._sending_on_headers(now, interval)
            # the bookings keep the schedule (one per interval); a send that woke up late
            # is not made up for by bursting: the next may follow it after ``gap`` (a
            # little under the interval), counted from this send or from when the last
            # request reached the wire, less the usual delay until it does
            gap = interval * self._catch_up
            early = max(self._last_sent, self._last_wire - self._wire_delay) + gap - now
            if early > 0:
                return early
            self._last_sent = now
            self._next_free = max(self._next_free, now + gap)
            return 0.0

    def _sending_on_headers(self, now: float, interval: float) -> float:
        """Header pacing (under the lock): evenly spaced sends (GCRA), and a send that
        fell behind the schedule (a late wake-up) may catch up while the vendor's last
        stated ``remaining``, less what went out since and a margin for the requests in
        flight, still covers it; at most a second's worth."""
        left = self._remaining - self._sent_since - _IN_FLIGHT_MARGIN
        tolerance = interval * max(0.0, min(left, 1.0 / interval))
        wait = self._tat - tolerance - now
        if wait > 0:
            return wait
        self._tat = max(self._tat, now) + interval
        self._sent_since += 1
        self._last_sent = now
        return 0.0

    def on_wire(self) -> None:
        """A request is being written to the socket now (after connecting, maybe late):
        space the next ones from this moment.

        The time since the last send is the delay until the wire; the usual one (the
        least of the last few) is expected of the next request too, so it is not added
        to the spacing twice: only a request that reached the wire later than usual (a
        slow connect, a pool wait) pushes the next ones back.
        """
        with self._lock:
            now = time.monotonic()
            if self.rate is None or now <= self._last_sent or self.header_rate is not None:
                return
            delays = self._wire_delays
            delays.append(now - self._last_sent)
            self._wire_delay = min(delays)
            self._last_wire = now
            gap = self._catch_up / self.rate
            self._next_free = max(self._next_free, now - self._wire_delay + gap)

    def replied(self, status: int, raw: Iterable[tuple[bytes, bytes]]) -> None:
        """Called with every reply: learn from its rate-limit headers, count answers."""
        limits = parse_limit_headers(raw) if self.limit.use_headers else None
        if limits is None:
            if self.rate is None and status < 400 and self.limit.adaptive:
                self._answered.append(time.monotonic())
            return
        self.observe(limits, time.monotonic())

    def observe(self, limits: LimitHeaders, now: float) -> None:
        """Pace on what a reply's rate-limit headers said (``now``: ``time.monotonic``)."""
        with self._lock:
            if limits.quota is not None and limits.quota > 0:
                window = limits.window_s
                if window is None:
                    # no stated window (X-RateLimit-*): the longest reset seen so far,
                    # in whole seconds (a reset given as a Unix time is up to 1 s long)
                    if limits.reset_s is not None:
                        self._window_guess = max(
                            self._window_guess, math.floor(limits.reset_s + 1e-6)
                        )
                    window = max(1.0, self._window_guess)
                paced = limits.quota / max(window, 1e-3) * (1.0 - self.limit.headroom)
                if paced != self.header_rate:
                    if self.rate is None:  # pacing starts now: recovery counts from here
                        self._last_update = now
                    self.header_rate = paced
                    self.configured = paced if self.told is None else min(self.told, paced)
                    self._ceiling = self.configured
                    self.rate = (
                        self.configured if self.rate is None else min(self.rate, self.configured)
                    )
            if limits.remaining is not None:
                self._remaining = limits.remaining
                self._sent_since = 0
            if limits.remaining is not None and limits.remaining < 1 and limits.reset_s:
                # nothing left in this window: every request waits for the reset
                self._paused_until = max(self._paused_until, now + limits.reset_s)
                self._next_free = max(self._next_free, self._paused_until)

    def _answered_last_second(self, now: float) -> int:
        answered = self._answered
        while answered and answered[0] < now - 1.0:
            answered.popleft()
        return len(answered)

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
            if self.rate is None:
                answered = self._answered_last_second(now)
                if answered >= 4:
                    # first 429 of a limit nobody told: the requests answered in the
                    # second before it are the quota per second; pace just under it
                    learnt = answered * (1.0 - self.limit.headroom)
                    self._ceiling = self.rate = max(self.limit.min_requests_per_s, learnt)
                    self._decrease_ticket = self._issued
                    self._next_free = max(self._next_free, self._paused_until)
                    return
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
            # unpaced and not paused (nothing to wait for): no second look under the lock
            while wait > 0 or state.rate is not None:
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
            # unpaced and not paused (nothing to wait for): no second look under the lock
            while wait > 0 or state.rate is not None:
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
