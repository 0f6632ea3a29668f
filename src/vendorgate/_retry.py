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
- **one testing switch**, :func:`retry_testing` (also ``vendorgate.http.retry_testing``);
- **one reading of a reply body**, :func:`read_body` / :func:`aread_body`: streamed, with
  a size cap and a total deadline per attempt (a reply that trickles in ends in a typed
  error about the deadline after the attempt started, not after one read timeout per
  byte); :func:`read_requests_body` applies the same size cap to a ``requests`` reply
  (Vault, through hvac);
- **one classification of TLS failures**, :func:`tls_problem`: a certificate or hostname
  that does not verify is named as such and never retried (token endpoint, API, Vault).

The loop is a plain ``while`` with ``time.sleep`` / ``asyncio.sleep`` (injectable): no
retry library, no process-wide hooks, nothing logged but the line above.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from vendorgate import _validate as check
from vendorgate import events
from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    import logging
    from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping

    from vendorgate._errors import ReplyDetails

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "BodyDeadline",
    "BodyTooLarge",
    "Retrier",
    "Retry",
    "RetryPolicy",
    "aread_body",
    "attempt_timeout",
    "current_deadline",
    "give_up",
    "longest_timeout",
    "parse_retry_after",
    "read_body",
    "read_requests_body",
    "retry_testing",
    "retry_testing_active",
    "testing_attempts",
    "tls_advice",
    "tls_problem",
]

T = TypeVar("T")

#: Statuses retried by default: rate limited, internal server error, bad gateway,
#: unavailable, gateway timeout. A 500 is as often a passing fault of the vendor's server
#: as a 502-504; only idempotent methods are retried (:data:`DEFAULT_RETRY_METHODS`), so a
#: retried 500 never repeats a side effect.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
#: Default cap on an API reply body held in memory: 64 MiB (``RetryPolicy.max_body_bytes``).
DEFAULT_MAX_BODY_BYTES: int = 64 * 1024 * 1024
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
    left, and the body is read against the deadline (a reply that trickles in a byte at a
    time is cut off), so the typed error arrives within about ``timeout_s`` (at most one
    read gap later). A token fetched during the call counts against the same budget.

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
        max_body_bytes: The largest reply body read into memory (decoded), 64 MiB by
            default; a larger one is a :class:`~vendorgate.BadResponseError` naming this
            setting, raised as soon as the cap is passed (the rest is never read).
    """

    attempts: int = 5
    timeout_s: float = 120.0
    wait_initial_s: float = 0.5
    wait_max_s: float = 30.0
    wait_jitter_s: float = 0.0
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    retry_methods: frozenset[str] = field(default=DEFAULT_RETRY_METHODS)
    retry_bad_body: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        check.integer(self.attempts, "attempts")
        check.integer(self.max_body_bytes, "max_body_bytes")
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


def _monotonic() -> float:
    return time.monotonic()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


async def _asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class Retrier:
    """Runs one call's attempts under a :class:`RetryPolicy` (sync and async).

    Args:
        policy: The retry policy.
        vendor: Preset or dialect name, for the log line.
        logger: Where the one WARNING per retry goes (``vendorgate.http`` for API calls,
            ``vendorgate.tokens`` for token requests).
        clock: Monotonic clock (tests inject one; default: ``time.monotonic``, looked up
            at each call so a patched ``time`` module is honoured).
        sleep: Blocking sleep (tests inject one; default: ``time.sleep``, looked up
            at each call).
        asleep: Async sleep (tests inject one; default: ``asyncio.sleep``).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        vendor: str,
        logger: logging.Logger,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        asleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.policy = policy
        self.vendor = vendor
        self.logger = logger
        self._clock = clock or _monotonic
        self._sleep = sleep or _sleep
        self._asleep = asleep or _asleep

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
        url: str | Callable[[], str],
    ) -> float | ReplyDetails:
        """After failed attempt ``num``: the seconds to sleep, or the error to raise."""
        p = self.policy
        now = self._clock()
        if not isinstance(url, str):
            url = url()
        if events.listening() and failure.error.status == 429:
            events.emit(events.RateLimited(self.vendor, url, failure.retry_after_s))
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
        if events.listening():
            events.emit(events.Retried(self.vendor, what, url, failure.cause, num, wait))
        return float(sleep)

    def run(
        self,
        once: Callable[[float], T],
        *,
        method: str,
        url: str | Callable[[], str],
        what: str | None = None,
    ) -> T:
        """Call ``once(deadline)`` until it succeeds, raises a final error, or the policy
        gives up (then the last :class:`Retry`'s typed error is raised).

        ``deadline`` is the ``time.monotonic()`` moment the budget ends: an attempt must
        not outlast it (cap its timeouts with :func:`attempt_timeout`). Calls made inside
        ``once`` see it as :func:`current_deadline`.

        Args:
            once: One attempt.
            method: The HTTP method (decides whether the policy retries it).
            url: The safe URL, for the log line (or a function computing it: called
                only when there is a retry to log).
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
        url: str | Callable[[], str],
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


# -- reading a reply ------------------------------------------------------------------------


class BodyTooLarge(Exception):
    """Internal signal: a reply body passed its size cap (each side raises its typed error).

    Attributes:
        limit: The cap, in bytes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


class BodyDeadline(Exception):
    """Internal signal: a reply body did not arrive in full before the attempt's deadline."""


def _body_check(
    response: Any, size: int, limit: int | None, deadline: float | None, now: float
) -> None:
    if limit is not None and size > limit:
        raise BodyTooLarge(limit)
    if deadline is not None and now > deadline and not _arrived_whole(response, size):
        raise BodyDeadline("reply not complete by the deadline")


def _arrived_whole(response: Any, size: int) -> bool:
    """Whether the reply's declared ``Content-Length`` has all arrived (``size`` decoded
    bytes so far). A reply in hand is read whatever the clock says: an attempt that
    started late (a rate-limit pause, a busy machine) is not a slow server."""
    length = str(response.headers.get("content-length", ""))
    if not length.isdigit():
        return False
    if response.headers.get("content-encoding"):
        return bool(response.num_bytes_downloaded >= int(length))
    return size >= int(length)


def _declared_over(headers: Any, limit: int | None) -> bool:
    """Whether an uncompressed reply's ``Content-Length`` already says it is over ``limit``."""
    length = str(headers.get("content-length", ""))
    return (
        limit is not None
        and length.isdigit()
        and int(length) > limit
        and not headers.get("content-encoding")
    )


def read_body(
    response: Any,
    *,
    deadline: float | None,
    limit: int | None,
    clock: Callable[[], float] = _monotonic,
) -> bytes:
    """Read a streamed httpx reply's (decoded) body under a size cap and a deadline.

    Each chunk's wait is bounded by the attempt's read timeout (capped at the time left
    by :func:`attempt_timeout`); after each chunk the total size and the deadline are
    checked, so a reply that trickles in ends at most one read gap past ``deadline`` and
    no more than ``limit`` bytes are ever held. A reply whose declared length has all
    arrived is returned even when the clock has passed ``deadline`` (it is not late).
    The body is then available as ``response.content`` / ``.text`` / ``.json()`` as
    after ``response.read()``.

    Raises:
        BodyTooLarge: More than ``limit`` bytes.
        BodyDeadline: The body did not arrive in full by ``deadline``.
        httpx.TransportError / httpx.DecodingError: as ``response.read()``.
    """
    if _declared_over(response.headers, limit):
        response.close()
        raise BodyTooLarge(limit or 0)
    try:
        content = _collect(response, response.iter_bytes(), limit, deadline, clock)
    finally:
        response.close()
    response._content = content  # what httpx's own read() sets
    return content


async def aread_body(
    response: Any,
    *,
    deadline: float | None,
    limit: int | None,
    clock: Callable[[], float] = _monotonic,
) -> bytes:
    """Async :func:`read_body`."""
    if _declared_over(response.headers, limit):
        await response.aclose()
        raise BodyTooLarge(limit or 0)
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            _body_check(response, size, limit, deadline, clock())
            parts.append(chunk)
    finally:
        await response.aclose()
    response._content = b"".join(parts)
    return response._content  # type: ignore[no-any-return]


def read_requests_body(response: Any, *, limit: int | None, chunk_bytes: int = 65536) -> bytes:
    """Read a streamed ``requests`` reply's (decoded) body under a size cap.

    The ``requests`` twin of :func:`read_body` (hvac talks to Vault through requests):
    the declared ``Content-Length`` is checked first, then the size after each chunk, so
    no more than ``limit`` bytes (plus one chunk) are ever held. On success the body is
    available as ``response.content`` / ``.json()``, as after a non-streamed request;
    on any error the connection is closed.

    Raises:
        BodyTooLarge: More than ``limit`` bytes.
        requests.RequestException: as ``response.content``.
    """
    if _declared_over(response.headers, limit):
        response.close()
        raise BodyTooLarge(limit or 0)
    try:
        content = _collect(response, response.iter_content(chunk_bytes), limit, None, _monotonic)
    except BaseException:
        response.close()
        raise
    response._content = content  # what requests' own .content sets
    response._content_consumed = True
    return content


def _collect(
    response: Any,
    chunks: Iterable[bytes],
    limit: int | None,
    deadline: float | None,
    clock: Callable[[], float],
) -> bytes:
    """The body from ``chunks``, its size and ``deadline`` checked after each chunk."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        _body_check(response, size, limit, deadline, clock())
        parts.append(chunk)
    return b"".join(parts)


def tls_problem(exc: BaseException) -> str | None:
    """What went wrong if ``exc`` (or what caused it) is a TLS verification failure.

    Returns ``"certificate"`` (the server's certificate does not verify against the
    trusted CAs: self-signed, private CA, expired), ``"hostname"`` (the certificate is
    for another host), ``"tls"`` (another TLS handshake failure), or ``None`` when the
    failure is not about TLS. Works on httpx and requests exceptions (their causes are
    walked).
    """
    import ssl

    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    found: str | None = None
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        text = str(current)
        if isinstance(current, ssl.SSLCertVerificationError) or (
            "CERTIFICATE_VERIFY_FAILED" in text
        ):
            message = (getattr(current, "verify_message", "") or text).lower()
            return (
                "hostname"
                if "hostname" in message or "ip address mismatch" in message
                else ("certificate")
            )
        if isinstance(current, ssl.SSLError) or "SSLError" in type(current).__name__:
            found = "tls"
        stack.append(current.__cause__)
        stack.append(current.__context__)
        stack.extend(a for a in current.args if isinstance(a, BaseException))
    return found


def tls_advice(problem: str) -> str:
    """The words of a TLS failure's error: what failed and what to set."""
    what = {
        "certificate": "the server's TLS certificate did not verify (self-signed, private "
        "CA or expired)",
        "hostname": "the server's TLS certificate is for another host name (hostname mismatch)",
    }.get(problem, "the TLS handshake failed")
    return (
        f"{what}; not retried: trust its CA with verify= (a CA bundle path) or "
        "REQUESTS_CA_BUNDLE, or use the host name the certificate names"
    )


def longest_timeout(base: Mapping[str, float | None]) -> float:
    """The longest phase of httpx timeouts (infinite when a phase has none, or there are
    none): while more time than this is left, :func:`attempt_timeout` changes nothing."""
    values = list(base.values())
    if not values or None in values:
        return math.inf
    return max(float(v) for v in values if v is not None)


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
