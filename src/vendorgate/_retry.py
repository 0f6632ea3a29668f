"""The one retry engine of vendorgate: token requests and API calls (a leaf module).

Both sides describe a failed attempt the same way (an internal :class:`Retry` signal
carrying the typed error to raise if no retry is made, the server's ``Retry-After`` and a
few safe words for the log) and hand it to a :class:`Retrier`, which decides *whether*
and *how long*:

- **one Retry-After parser**, :func:`parse_retry_after`: delay-seconds (``"120"``) or an
  HTTP-date (``... GMT``, ``... +0000`` and ``... -0000`` all mean UTC); it returns the
  seconds the server asked for, uncapped;
- **one cap**: a wait, ``Retry-After`` included, is at most the policy's ``wait_max_s``
  (30 s by default, for the API client and the token endpoint alike);
- **one backoff**: full jitter, ``uniform(0, min(wait_max_s, wait_initial_s * 2**(n-1)))``
  plus up to ``wait_jitter_s``;
- **one budget**: no retry is made whose wait would end past the deadline (the
  policy's ``timeout_s`` after the first attempt, or an enclosing call's deadline if that
  ends sooner: a token fetched inside an API call counts against the call's budget);
- **one log line per retry**, WARNING, on the caller's logger:
  ``"<vendor>: <what> <url>: <cause>, retry <n> of <N> in <wait> s"``;
- **one testing switch**, :func:`retry_testing` (also ``vendorgate.http.retry_testing``).

The loop is a plain ``while`` with ``time.sleep`` / ``asyncio.sleep`` (injectable): no
retry library, no process-wide hooks, nothing logged but the line above.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from vendorgate import _validate as check
from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    import logging
    from collections.abc import Awaitable, Callable, Iterator, Mapping

    from vendorgate._errors import ReplyDetails

__all__ = [
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "Retrier",
    "Retry",
    "RetryPolicy",
    "attempt_timeout",
    "current_deadline",
    "give_up",
    "parse_retry_after",
    "retry_testing",
    "retry_testing_active",
    "testing_attempts",
]

T = TypeVar("T")

#: Statuses retried by default: rate limited, bad gateway, unavailable, gateway timeout.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})
#: Methods retried by default: the idempotent ones (RFC 9110 section 9.2.2).
DEFAULT_RETRY_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
)

# -- the testing switch ------------------------------------------------------------------

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
    if attempts is not None:
        check.integer(attempts, "attempts")
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


# -- the policy ----------------------------------------------------------------------------


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
    left, so the typed error arrives within about ``timeout_s``. A token fetched during
    the call counts against the same budget.

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
        check.integer(self.attempts, "attempts")
        for name in ("timeout_s", "wait_initial_s", "wait_max_s"):
            check.seconds(getattr(self, name), name)
        check.seconds(self.wait_jitter_s, "wait_jitter_s", allow_zero=True)
        try:
            statuses = frozenset(self.retry_statuses)
        except TypeError:
            statuses = frozenset({0})
        if any(
            not isinstance(s, int) or isinstance(s, bool) or not 100 <= s <= 599 for s in statuses
        ):
            raise ConfigurationError("must be HTTP statuses (100-599)", field="retry_statuses")
        object.__setattr__(self, "retry_statuses", statuses)
        methods: Any = self.retry_methods
        if isinstance(methods, str):
            methods = (methods,)
        try:
            names = frozenset(check.text(m, "retry_methods").upper() for m in methods)
        except TypeError:
            raise ConfigurationError(
                "must be HTTP method names, e.g. {'GET', 'POST'}", field="retry_methods"
            ) from None
        object.__setattr__(self, "retry_methods", names)

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

    def wait_s(self, retry_num: int, retry_after_s: float | None) -> float:
        """The wait before retry ``retry_num``: the server's ``Retry-After`` if it sent
        one, else :meth:`backoff_s`; at most ``wait_max_s`` either way."""
        if retry_after_s is not None:
            return min(retry_after_s, self.wait_max_s)
        return self.backoff_s(retry_num)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header into seconds from now (uncapped).

    Accepts delay-seconds (``"120"``) and HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``;
    ``+0000`` and ``-0000`` are read as GMT too, as RFC 9110 says an HTTP-date is).
    Returns ``None`` when absent or unparseable, ``0.0`` for dates in the past. The
    caller's :class:`RetryPolicy` caps the wait (``wait_max_s``).
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
    else:  # a decimal or negative number: lenient, but never NaN or infinity
        return max(0.0, seconds) if seconds - seconds == 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": no zone information; an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


# -- one call's attempts ------------------------------------------------------------------


class Retry(Exception):
    """Raised by one attempt when the failure may be retried (internal signal).

    Never escapes the engine: when no retry is made, :attr:`error` is raised instead.

    Attributes:
        error: The typed, public error raised if no retry is made.
        retry_after_s: The server's ``Retry-After``, in seconds, if it sent one.
        cause: Short safe words for the log (``"status 429"``, ``"ReadTimeout"``).
        always: Retry even for a method the policy does not retry (the request was
            never sent).
    """

    def __init__(
        self,
        error: ReplyDetails,
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


def give_up(error: ReplyDetails, attempts: int, elapsed_s: float) -> ReplyDetails:
    """The error raised when retries end: ``error``, saying how many attempts were made.

    Its ``__cause__`` is what caused the last failure (the third-party exception), or the
    last attempt's own error when there was none.
    """
    if attempts <= 1:
        return error
    new = type(error)(
        f"{error} (gave up after {attempts} attempts in {elapsed_s:.1f} s)",
        **error.details(),  # type: ignore[arg-type]
    )
    new.__cause__ = error.__cause__ if error.__cause__ is not None else error
    return new


# The deadline (time.monotonic) of the call being retried in this thread or task, so a
# nested call (a token fetched inside an API call) stays within the outer call's budget.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vendorgate_retry_deadline", default=None
)


def current_deadline() -> float | None:
    """The ``time.monotonic()`` deadline of the enclosing retried call, if any."""
    return _deadline.get()


class Retrier:
    """Runs one call's attempts under a :class:`RetryPolicy` (sync and async).

    Args:
        policy: The retry policy.
        vendor: Preset or dialect name, for the log line.
        logger: Where the one WARNING per retry goes (``vendorgate.http`` for API calls,
            ``vendorgate.tokens`` for token requests).
        clock: Monotonic clock (tests inject one).
        sleep: Blocking sleep (tests inject one).
        asleep: Async sleep (tests inject one).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        vendor: str,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.policy = policy
        self.vendor = vendor
        self.logger = logger
        self._clock = clock
        self._sleep = sleep
        self._asleep = asleep

    def _deadline(self) -> tuple[float, float]:
        """``(started, deadline)``: the policy's budget, or the enclosing call's if sooner."""
        started = self._clock()
        deadline = started + self.policy.timeout_s
        outer = _deadline.get()
        return started, deadline if outer is None else min(deadline, outer)

    def _next(
        self,
        failure: Retry,
        *,
        num: int,
        started: float,
        deadline: float,
        method: str,
        what: str,
        url: str,
    ) -> float | ReplyDetails:
        """After failed attempt ``num``: the seconds to sleep, or the error to raise."""
        p = self.policy
        now = self._clock()
        allowed = failure.always or method.upper() in p.retry_methods
        if not allowed or num >= testing_attempts(p.attempts):
            return give_up(failure.error, num, now - started)
        wait = p.wait_s(num, failure.retry_after_s)
        sleep = 0.0 if retry_testing_active() else wait
        if now + sleep >= deadline:
            return give_up(failure.error, num, now - started)
        self.logger.warning(
            "%s: %s %s: %s, retry %d of %d in %.2f s",
            self.vendor,
            what,
            url,
            failure.cause,
            num,
            testing_attempts(p.attempts) - 1,
            wait,
        )
        return float(sleep)

    def run(
        self, once: Callable[[float], T], *, method: str, url: str, what: str | None = None
    ) -> T:
        """Call ``once(deadline)`` until it succeeds, raises a final error, or the policy
        gives up (then the last :class:`Retry`'s typed error is raised).

        ``deadline`` is the ``time.monotonic()`` moment the budget ends: an attempt must
        not outlast it (cap its timeouts with :func:`attempt_timeout`). Calls made inside
        ``once`` see it as :func:`current_deadline`.

        Args:
            once: One attempt.
            method: The HTTP method (decides whether the policy retries it).
            url: The safe URL, for the log line.
            what: What is being done, for the log line (default: ``method``).
        """
        started, deadline = self._deadline()
        reset = _deadline.set(deadline)
        try:
            num = 1
            while True:
                try:
                    return once(deadline)
                except Retry as failure:
                    last = failure
                step = self._next(
                    last,
                    num=num,
                    started=started,
                    deadline=deadline,
                    method=method,
                    what=what or method,
                    url=url,
                )
                if isinstance(step, BaseException):
                    raise step from step.__cause__
                if step > 0:
                    self._sleep(step)
                num += 1
        finally:
            _deadline.reset(reset)

    async def arun(
        self,
        once: Callable[[float], Awaitable[T]],
        *,
        method: str,
        url: str,
        what: str | None = None,
    ) -> T:
        """Async :meth:`run`."""
        started, deadline = self._deadline()
        reset = _deadline.set(deadline)
        try:
            num = 1
            while True:
                try:
                    return await once(deadline)
                except Retry as failure:
                    last = failure
                step = self._next(
                    last,
                    num=num,
                    started=started,
                    deadline=deadline,
                    method=method,
                    what=what or method,
                    url=url,
                )
                if isinstance(step, BaseException):
                    raise step from step.__cause__
                if step > 0:
                    await self._asleep(step)
                num += 1
        finally:
            _deadline.reset(reset)


def attempt_timeout(
    base: Mapping[str, float | None], deadline: float, *, now: float | None = None
) -> dict[str, float]:
    """httpx timeouts for one attempt: each phase at most the time left until ``deadline``."""
    left = max(0.001, deadline - (time.monotonic() if now is None else now))
    return {k: left if v is None else min(float(v), left) for k, v in base.items()} or {
        "connect": left,
        "read": left,
        "write": left,
        "pool": left,
    }
