"""Retries with exponential backoff, full jitter and ``Retry-After``, run by tenacity.

Why tenacity (rather than a home-made loop, or stamina): it is the well-kept, typed
retry library that stamina itself is built on, and everything it does is configured
*per call*: the ``wait=`` callable returns the delay our policy computed (full jitter,
``Retry-After``, the per-wait cap) and the ``before_sleep=`` callable writes vendorgate's
one WARNING line per retry. It has no global instrumentation: stamina logs its own
``stamina.retry_scheduled`` event for every retry through hooks that are global to the
process, which a library must leave to the application, so every retry was logged twice.
vendorgate only decides *whether* and *how long* (and the total time budget) and lets
tenacity run the loop. :func:`retry_testing` turns every wait off in tests.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from vendorgate._errors import APIError, ConfigurationError, TransportError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping

    import httpx
    from tenacity import RetryCallState

__all__ = [
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "RetryPolicy",
    "attempt_timeout",
    "parse_retry_after",
    "retry_testing",
    "retry_testing_active",
    "testing_attempts",
]

logger = logging.getLogger("vendorgate.http")

T = TypeVar("T")

#: Statuses retried by default: rate limited, bad gateway, unavailable, gateway timeout.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})
#: Methods retried by default: the idempotent ones (RFC 9110 section 9.2.2).
DEFAULT_RETRY_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
)


# The active retry_testing() switches, innermost last (process-wide, like a test run).
_testing: list[int | None] = []


@contextlib.contextmanager
def retry_testing(*, attempts: int | None = None) -> Iterator[None]:
    """Turn every retry wait off while the block runs (for tests, instead of sleeping).

    Applies to every vendorgate retry loop in the process: the clients' and the token
    endpoint's. Waits are skipped (the log line still says how long the wait would have
    been) and a 429 does not pause the client's rate limiter.

    Args:
        attempts: Also cap every loop at this many attempts (default: as configured).

    Example:
        >>> from vendorgate.http import retry_testing
        >>> with retry_testing(attempts=3):
        ...     pass  # requests made here retry at once, at most 3 attempts each
    """
    if attempts is not None and (not isinstance(attempts, int) or attempts < 1):
        raise ConfigurationError("must be an integer >= 1", field="attempts")
    _testing.append(attempts)
    try:
        yield
    finally:
        _testing.pop()


def retry_testing_active() -> bool:
    """Whether a :func:`retry_testing` block is active (waits are skipped)."""
    return bool(_testing)


def testing_attempts(attempts: int) -> int:
    """``attempts``, capped by the innermost active :func:`retry_testing`, if any."""
    if _testing and _testing[-1] is not None:
        return min(attempts, _testing[-1])
    return attempts


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How a client retries a failed request.

    The wait before retry ``n`` (1-based) is drawn uniformly from
    ``[0, min(wait_max_s, wait_initial_s * 2 ** (n - 1))]`` ("full jitter"), plus up
    to ``wait_jitter_s`` extra, capped at ``wait_max_s``. A ``Retry-After`` header
    (seconds or HTTP-date) replaces the drawn wait, still capped at ``wait_max_s``. A retry
    whose wait would end past ``timeout_s`` (counted from the first attempt) is not
    made: the typed error is raised at once instead. The budget also covers the attempts
    themselves: each attempt's connect/read/write/pool timeouts are capped at the time
    left, so the typed error arrives within about ``timeout_s``.

    Attributes:
        attempts: Total attempts including the first (``1`` disables retries).
        timeout_s: Budget for all attempts and waits of one request, in seconds.
        wait_initial_s: Upper bound of the first backoff, in seconds.
        wait_max_s: Cap on any single wait, ``Retry-After`` included.
        wait_jitter_s: Extra random wait added on top of the backoff (``0`` by default).
        retry_statuses: Statuses that are retried.
        retry_methods: Methods that are retried; add ``"POST"`` to opt in for POST.
            Connection failures that happen before the request is sent are retried for
            every method.
        retry_bad_body: Whether an unparseable body (truncated JSON) is retried.
    """

    attempts: int = 5
    timeout_s: float = 120.0
    wait_initial_s: float = 0.5
    wait_max_s: float = 30.0
    wait_jitter_s: float = 0.0
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    retry_methods: frozenset[str] = field(default=DEFAULT_RETRY_METHODS)
    retry_bad_body: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigurationError("must be an integer >= 1", field="attempts")
        for name in ("timeout_s", "wait_initial_s", "wait_max_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigurationError("must be a number of seconds > 0", field=name)
        if not isinstance(self.wait_jitter_s, (int, float)) or self.wait_jitter_s < 0:
            raise ConfigurationError("must be a number of seconds >= 0", field="wait_jitter_s")
        statuses = frozenset(self.retry_statuses)
        if any(not isinstance(s, int) or not 100 <= s <= 599 for s in statuses):
            raise ConfigurationError("must be HTTP statuses (100-599)", field="retry_statuses")
        object.__setattr__(self, "retry_statuses", statuses)
        object.__setattr__(self, "retry_methods", frozenset(m.upper() for m in self.retry_methods))

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)

    def to_mapping(self) -> dict[str, Any]:
        """The settings that differ from the defaults, as plain JSON (sorted lists)."""
        from vendorgate._mapping import dataclass_to_mapping

        return dataclass_to_mapping(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, field: str = "retry") -> RetryPolicy:
        """Rebuild a policy from :meth:`to_mapping` output; errors name ``retry.<key>``."""
        from vendorgate._mapping import dataclass_from_mapping

        return dataclass_from_mapping(cls, data, field=field)

    def backoff_s(self, retry_num: int) -> float:
        """Draw the wait before retry ``retry_num`` (1-based), full jitter, capped."""
        ceiling = min(self.wait_max_s, self.wait_initial_s * 2.0 ** min(retry_num - 1, 60))
        wait = random.uniform(0.0, ceiling)
        if self.wait_jitter_s:
            wait += random.uniform(0.0, self.wait_jitter_s)
        return min(wait, self.wait_max_s)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header into seconds from now.

    Accepts delay-seconds (``"120"``) and HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``). Returns ``None`` when absent or unparseable,
    ``0.0`` for dates in the past.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN check
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class RetryableFailure(Exception):
    """Raised by one attempt when the failure may be retried (internal).

    Attributes:
        error: The typed error raised if no retry is made.
        retry_after_s: The server's ``Retry-After``, in seconds, if it sent one.
        cause: Short words for the log (``"status 429"``, ``"ReadTimeout"``).
        always: Retry even for a non-idempotent method (request never sent).
    """

    def __init__(
        self,
        error: APIError,
        *,
        retry_after_s: float | None = None,
        cause: str,
        always: bool = False,
    ) -> None:
        super().__init__(cause)
        self.error = error
        self.retry_after_s = retry_after_s
        self.cause = cause
        self.always = always


class _RetrySignal(Exception):
    """Tells the tenacity loop to retry after ``wait_s`` seconds (internal)."""

    def __init__(self, failure: RetryableFailure, wait_s: float, sleep_s: float) -> None:
        super().__init__(failure.cause)
        self.failure = failure
        self.wait_s = wait_s
        self.sleep_s = sleep_s


def _sleep_for(state: RetryCallState) -> float:
    """tenacity ``wait=``: the wait our policy computed (``0`` under retry_testing)."""
    exc = state.outcome.exception() if state.outcome is not None else None
    return exc.sleep_s if isinstance(exc, _RetrySignal) else 0.0


def transport_failure(
    exc: httpx.TransportError, *, vendor: str, method: str, url: str
) -> RetryableFailure:
    """Wrap an httpx transport error (connection, timeout, protocol) for the retry loop."""
    import httpx

    name = type(exc).__name__
    err = TransportError(
        f"{vendor}: {method} {url} failed: {name} (check the network and the timeouts)",
        vendor=vendor,
        url=url,
    )
    err.__cause__ = exc
    never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    return RetryableFailure(err, cause=name, always=never_sent)


def _give_up(failure: RetryableFailure, attempt: int, elapsed_s: float) -> APIError:
    err = failure.error
    if attempt <= 1:
        return err
    new = type(err)(
        f"{err} (gave up after {attempt} attempts in {elapsed_s:.1f} s)",
        status=err.status,
        vendor=err.vendor,
        request_id=err.request_id,
        body_excerpt=err.body_excerpt,
        url=err.url,
    )
    new.__cause__ = err.__cause__
    return new


class Retrier:
    """Runs one request's attempts under a :class:`RetryPolicy` (used by the clients)."""

    def __init__(self, policy: RetryPolicy, *, vendor: str) -> None:
        self.policy = policy
        self.vendor = vendor

    def _signal(
        self, failure: RetryableFailure, method: str, url: str, num: int, started: float
    ) -> Exception:
        p = self.policy
        elapsed = time.monotonic() - started
        retryable_method = failure.always or method.upper() in p.retry_methods
        if not retryable_method or num >= testing_attempts(p.attempts):
            return _give_up(failure, num, elapsed)
        if failure.retry_after_s is not None:
            wait = min(failure.retry_after_s, p.wait_max_s)
        else:
            wait = p.backoff_s(num)
        sleep = 0.0 if retry_testing_active() else wait
        if elapsed + sleep > p.timeout_s:
            return _give_up(failure, num, elapsed)
        return _RetrySignal(failure, wait, sleep)

    def _before_sleep(self, method: str, url: str) -> Callable[[RetryCallState], None]:
        """Per-call tenacity ``before_sleep``: the one WARNING line of each retry."""
        total = testing_attempts(self.policy.attempts) - 1

        def log(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            if isinstance(exc, _RetrySignal):
                logger.warning(
                    "%s: %s %s: %s, retry %d of %d in %.2f s",
                    self.vendor,
                    method,
                    url,
                    exc.failure.cause,
                    state.attempt_number,
                    total,
                    exc.wait_s,
                )

        return log

    def _left(self, started: float) -> float:
        return self.policy.timeout_s - (time.monotonic() - started)

    def _loop_kwargs(self, method: str, url: str) -> dict[str, Any]:
        import tenacity

        return {
            "retry": tenacity.retry_if_exception_type(_RetrySignal),
            "wait": _sleep_for,
            "before_sleep": self._before_sleep(method, url),
            "reraise": True,
        }

    def run(self, once: Callable[[float], T], *, method: str, url: str) -> T:
        """Call ``once(deadline)`` until it succeeds, raises a final error, or the policy
        gives up.

        ``deadline`` is the ``time.monotonic()`` moment the policy's ``timeout_s`` budget
        ends: an attempt must not outlast it (the clients cap its httpx timeouts with it).
        No attempt starts once the budget is spent. The first attempt runs outside
        tenacity (no per-request overhead when nothing fails); its failure is handed to
        tenacity's loop as that loop's first attempt.
        """
        started = time.monotonic()
        deadline = started + self.policy.timeout_s
        try:
            return once(deadline)
        except RetryableFailure as failure:
            last = failure
            first = self._signal(failure, method, url, 1, started)
        if not isinstance(first, _RetrySignal):
            raise first from first.__cause__
        import tenacity

        num = 0
        for attempt in tenacity.Retrying(**self._loop_kwargs(method, url)):
            with attempt:
                num += 1
                if num == 1:
                    raise first
                if self._left(started) <= 0:
                    err = _give_up(last, num - 1, time.monotonic() - started)
                    raise err from err.__cause__
                try:
                    return once(deadline)
                except RetryableFailure as failure:
                    last = failure
                    exc = self._signal(failure, method, url, num, started)
                    raise exc from exc.__cause__
        raise AssertionError("unreachable: tenacity ended without a result")  # pragma: no cover

    async def arun(self, once: Callable[[float], Awaitable[T]], *, method: str, url: str) -> T:
        """Async :meth:`run`."""
        started = time.monotonic()
        deadline = started + self.policy.timeout_s
        try:
            return await once(deadline)
        except RetryableFailure as failure:
            last = failure
            first = self._signal(failure, method, url, 1, started)
        if not isinstance(first, _RetrySignal):
            raise first from first.__cause__
        import tenacity

        num = 0
        async for attempt in tenacity.AsyncRetrying(**self._loop_kwargs(method, url)):
            with attempt:
                num += 1
                if num == 1:
                    raise first
                if self._left(started) <= 0:
                    err = _give_up(last, num - 1, time.monotonic() - started)
                    raise err from err.__cause__
                try:
                    return await once(deadline)
                except RetryableFailure as failure:
                    last = failure
                    exc = self._signal(failure, method, url, num, started)
                    raise exc from exc.__cause__
        raise AssertionError("unreachable: tenacity ended without a result")  # pragma: no cover


def attempt_timeout(base: Mapping[str, float | None], deadline: float) -> dict[str, float]:
    """httpx timeouts for one attempt: each phase at most the time left until ``deadline``."""
    left = max(0.001, deadline - time.monotonic())
    return {k: left if v is None else min(float(v), left) for k, v in base.items()} or {
        "connect": left,
        "read": left,
        "write": left,
        "pool": left,
    }
