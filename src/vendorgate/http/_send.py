"""Sending one request: the attempt, its classification and the retries around it.

The sync and async clients share :class:`Sender` (configuration and the classification
of a reply: value, retryable failure or typed error); :class:`SyncSender` and
:class:`AsyncSender` are the short I/O shells that run attempts under the retry engine
(``vendorgate._retry``) inside a rate limiter slot.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import httpx

from vendorgate._errors import APIError, APITransportError, BadResponseError, ConfigurationError
from vendorgate._retry import (
    BodyDeadline,
    BodyTooLarge,
    Retrier,
    Retry,
    RetryPolicy,
    aread_body,
    attempt_timeout,
    longest_timeout,
    parse_retry_after,
    read_body,
    retry_testing_active,
)
from vendorgate.http._auth import VendorAuth
from vendorgate.http._ratelimit import AsyncRateLimiter, RateLimit, RateLimiter
from vendorgate.http._response import api_error, safe_url
from vendorgate.http._retry import transport_failure

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from vendorgate.http._ratelimit import _RateState
    from vendorgate.tokens import TokenSource

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncSender",
    "MergedURL",
    "PoolEntry",
    "PoolGate",
    "Sender",
    "SyncSender",
    "decode_failure",
    "enter_pool",
    "httpx_options",
    "no_parse",
    "parse_json",
    "reply_and_json",
    "request_url",
]

logger = logging.getLogger("vendorgate.http")

T = TypeVar("T")

#: Timeouts used unless the caller gives others: connect, read, write, pool (seconds).
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0)

_Parse = Callable[[httpx.Response], T]

#: What reading a reply body may raise (:meth:`Sender._unread` turns each into its error).
_UNREAD = (httpx.TransportError, httpx.DecodingError, BodyTooLarge, BodyDeadline)

#: ``send()`` keyword arguments: a request sent without the client's auth, or as configured
#: (shared, read-only: never built per request).
_ANONYMOUS: Mapping[str, Any] = MappingProxyType({"auth": None})
_AS_CONFIGURED: Mapping[str, Any] = MappingProxyType({})


def _h2_available() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        return False
    return True


def request_url(url: httpx.URL) -> str:
    """:func:`safe_url` of an already parsed URL (no user info, query or fragment), cheaply:
    it is computed for every request."""
    try:
        path = url.raw_path.split(b"?", 1)[0].decode("ascii")
        return f"{url.scheme}://{url.netloc.decode('ascii')}{path}"
    except (UnicodeDecodeError, ValueError):  # pragma: no cover - httpx URLs are ASCII
        return safe_url(url)


class MergedURL:
    """The last URL a client was asked for, merged with its base URL (one entry).

    httpx parses a relative URL and then the URL merged with the base URL on every
    ``build_request``: two URL parses, about a third of building a request. A page walk
    asks for the same URL page after page (only the query changes), so the merged
    :class:`httpx.URL` (immutable) is kept and handed to ``build_request``, which takes an
    absolute URL as it is. The entry is keyed on the URL string and on the client's
    ``base_url`` object (a new base URL is a new object), and replaced as a whole
    (threads sharing a client read a consistent entry). The merge is httpx's own rule:
    an absolute URL stays as it is; a relative one is appended to the base URL's path
    (the base URL ends in ``/``; a leading ``/`` of the URL is dropped).
    """

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[httpx.URL | None, str, httpx.URL | str] = (None, "", "")

    def __call__(self, base: httpx.URL, url: str) -> httpx.URL | str:
        """``url`` merged with ``base`` (``url`` itself when the merge is not absolute)."""
        last_base, last_url, merged = self._entry
        if last_base is base and last_url == url:
            return merged
        target = httpx.URL(url)
        if target.is_relative_url:
            target = base.copy_with(raw_path=base.raw_path + target.raw_path.lstrip(b"/"))
        # a URL still relative (no base URL) is left to httpx as the string it was
        merged = url if target.is_relative_url else target
        self._entry = (base, url, merged)
        return merged


def parse_json(response: httpx.Response) -> Any:
    """Parse a reply's body as JSON."""
    return response.json()


def reply_and_json(response: httpx.Response) -> tuple[httpx.Response, Any]:
    """The reply and its body parsed as JSON (a page: its headers may matter too)."""
    return response, response.json()


def no_parse(response: httpx.Response) -> httpx.Response:
    """Hand the reply back as it is."""
    return response


def decode_failure(response: httpx.Response, vendor: str, exc: Exception) -> Retry:
    """A body httpx could not decode (Content-Encoding), as a retryable failure."""
    err = api_error(
        response,
        vendor=vendor,
        reason=f"body could not be decoded ({type(exc).__name__}): check its Content-Encoding",
        cls=BadResponseError,
    )
    return Retry(err, cause="DecodingError")


def body_too_large(response: httpx.Response, vendor: str, limit: int) -> BadResponseError:
    """A body over ``RetryPolicy.max_body_bytes``, as a final typed error (not retried)."""
    err = api_error(
        response,
        vendor=vendor,
        reason=(
            f"body larger than {limit:,} bytes (RetryPolicy.max_body_bytes): raise "
            "max_body_bytes, or ask for smaller pages"
        ),
        cls=BadResponseError,
    )
    assert isinstance(err, BadResponseError)
    return err


def body_deadline(
    request: httpx.Request, vendor: str, url: str, timeout_s: float
) -> APITransportError:
    """A reply still arriving when the budget ended, as a final typed error."""
    return APITransportError(
        f"{vendor}: {request.method} {url} failed: the reply did not arrive in full within "
        f"the request's budget (RetryPolicy.timeout_s={timeout_s:g} s): a slow or stalled "
        "server; raise timeout_s or retry later",
        vendor=vendor,
        url=url,
    )


def httpx_options(
    source: TokenSource | None,
    base_url: str,
    timeout: httpx.Timeout | float | None,
    http2: bool | None,
    headers: Mapping[str, str] | None,
    limits: httpx.Limits | None,
    verify: Any,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
) -> dict[str, Any]:
    """Keyword arguments shared by the sync and async httpx clients (one set of defaults)."""
    options: dict[str, Any] = {
        "base_url": base_url,
        "auth": VendorAuth(source) if source is not None else None,
        "timeout": timeout,
        "http2": _h2_available() if http2 is None else http2,
        "headers": dict(headers or {}),
        "limits": limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
        "verify": verify,
    }
    if transport is not None:
        options["transport"] = transport
    return options


class Sender:
    """What the sync and async clients share: configuration and reply checking."""

    limiter: RateLimiter | AsyncRateLimiter

    def __init__(
        self,
        source: TokenSource | None,
        *,
        base_url: str,
        vendor: str | None,
        retry: RetryPolicy | None,
        rate_limit: RateLimit | None,
    ) -> None:
        if source is not None and not hasattr(source, "get_token"):
            raise ConfigurationError("must be a TokenSource (e.g. a TokenProvider)", field="source")
        self.source = source
        self.vendor = vendor or (source.vendor if source is not None else "api")
        self.base_url = base_url
        self.retry_policy = retry or RetryPolicy()
        self.rate_limit = rate_limit or RateLimit()
        self._retrier = Retrier(self.retry_policy, vendor=self.vendor, logger=logger)
        # the last request timeouts seen and their longest phase (see _timeouts)
        self._longest: tuple[Mapping[str, Any], float] = ({}, math.inf)

    def _timeouts(self, request: httpx.Request) -> tuple[Mapping[str, Any], float]:
        """The request's own timeouts and their longest phase: an attempt that starts with
        more time left than that keeps them as they are (no capped copy per attempt).

        Requests are built with the client's timeouts, so the longest phase is worked out
        again only when they differ from the last request's.
        """
        base: Mapping[str, Any] = request.extensions.get("timeout") or {}
        last, longest = self._longest
        if base != last:
            longest = longest_timeout(base)
            self._longest = (base, longest)
        return base, longest

    def _check(self, response: httpx.Response, parse: _Parse[T], ticket: int) -> T:
        """Classify a fully read reply: value, retryable failure, or final typed error.

        ``ticket`` is the rate limiter's booking of the attempt (a 429 is reported on it).
        """
        status = response.status_code
        if status < 300:  # the common case first: no policy lookups for a good reply
            return self._parsed(response, parse)
        policy = self.retry_policy
        if status == 429 or status in policy.retry_statuses:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if status == 429:  # every request of this client pauses, within the wait cap
                pause = None if retry_after is None else policy.wait_s(1, retry_after)
                self.limiter.throttled(ticket, None if retry_testing_active() else pause)
            err = api_error(
                response,
                vendor=self.vendor,
                reason=(
                    "rate limited: lower RateLimit.requests_per_s or raise the retry budget"
                    if status == 429
                    else "the vendor's server failed: retry later or ask the vendor"
                ),
            )
            if status in policy.retry_statuses:
                raise Retry(err, retry_after_s=retry_after, cause=f"status {status}")
            raise err
        if 300 <= status < 400:
            location = response.headers.get("location")
            where = safe_url(response.request.url.join(location)) if location else "nowhere"
            raise api_error(
                response,
                vendor=self.vendor,
                reason=(
                    f"redirected to {where} (redirects are not followed: use that URL or "
                    "fix base_url)"
                ),
                cls=APIError,
            )
        if status >= 500:
            raise api_error(
                response,
                vendor=self.vendor,
                reason=(
                    f"the vendor's server failed (HTTP {status}): retry later or ask the "
                    "vendor (add the status to RetryPolicy.retry_statuses to retry it)"
                ),
            )
        if status >= 400:
            reason = {
                401: "credentials refused (check client id, secret and audience)",
                403: "permission denied (check the client's scopes or roles)",
                404: "not found (check the path and the base URL)",
            }.get(status, "request refused (check the path, parameters and body)")
            raise api_error(response, vendor=self.vendor, reason=reason)
        return self._parsed(response, parse)

    def _parsed(self, response: httpx.Response, parse: _Parse[T]) -> T:
        """``parse(response)``; a body it cannot parse is a (retryable) typed error."""
        try:
            return parse(response)
        except (ValueError, UnicodeDecodeError, RecursionError, OverflowError) as exc:
            err = api_error(
                response,
                vendor=self.vendor,
                reason=(
                    f"unparseable body ({type(exc).__name__}): truncated, not JSON, or "
                    "nested or sized beyond what can be parsed"
                ),
                cls=BadResponseError,
            )
            if self.retry_policy.retry_bad_body:
                raise Retry(err, cause=f"bad body ({type(exc).__name__})") from exc
            raise err from exc

    def _unread(
        self, exc: Exception, request: httpx.Request, response: httpx.Response, url: str
    ) -> NoReturn:
        """Raise the retry signal or typed error for a reply body that could not be read."""
        if isinstance(exc, httpx.TransportError):
            raise transport_failure(
                exc, vendor=self.vendor, method=request.method, url=url
            ) from exc
        if isinstance(exc, httpx.DecodingError):
            raise decode_failure(response, self.vendor, exc) from exc
        if isinstance(exc, BodyTooLarge):
            raise body_too_large(response, self.vendor, exc.limit) from None
        if isinstance(exc, BodyDeadline):
            raise body_deadline(request, self.vendor, url, self.retry_policy.timeout_s) from None
        raise exc


class SyncSender(Sender):
    """Sends one request of the sync client: attempts, rate limit slot, retries."""

    _http: httpx.Client
    limiter: RateLimiter

    def _trace(self, event: str, info: Mapping[str, Any]) -> None:
        # httpcore reports when the request headers hit the wire: pace on that moment
        if event.endswith("send_request_headers.started"):
            self.limiter.state.on_wire()

    def _send(self, request: httpx.Request, parse: _Parse[T], *, anonymous: bool = False) -> T:
        state = self.limiter.state
        # the request's own timeouts (a fresh dict per built request, never changed here:
        # an attempt with less time left than their longest phase gets a capped copy)
        base_timeout, longest = self._timeouts(request)
        kw = _ANONYMOUS if anonymous else _AS_CONFIGURED

        def once(deadline: float) -> T:
            # per attempt: the attempt may not outlast the budget, and a rate learnt
            # since the first attempt paces this one on its wire time too
            if deadline - time.monotonic() > longest:
                request.extensions["timeout"] = base_timeout
            else:
                request.extensions["timeout"] = attempt_timeout(base_timeout, deadline)
            if state.rate is not None or state.configured is not None:
                request.extensions["trace"] = self._trace
            with self.limiter.slot() as slot:
                try:
                    response = self._http.send(request, stream=True, **kw)
                except httpx.TransportError as exc:
                    raise transport_failure(
                        exc, vendor=self.vendor, method=request.method, url=request_url(request.url)
                    ) from exc
                try:
                    read_body(response, deadline=deadline, limit=self.retry_policy.max_body_bytes)
                except _UNREAD as exc:
                    self._unread(exc, request, response, request_url(request.url))
            state.replied(response.status_code, response.headers.raw)
            return self._check(response, parse, slot.ticket)

        # the safe URL is worked out only for a log line or an error
        return self._retrier.run(once, method=request.method, url=lambda: request_url(request.url))


#: httpcore's trace events of a request opening its own connection (plain, through a
#: proxy or SOCKS, or a Unix socket): the gate's next request may enter the pool.
_CONNECTING = ("connect_tcp.started", "connect_unix_socket.started")


class PoolGate:
    """One request at a time between entering httpcore's pool and taking its connection.

    httpcore hands a queued request the first idle connection, and the request marks it
    busy only a few event loop turns later (after taking two locks). A second request
    entering the pool within those turns is handed the same connection: one of the two
    gets ``ConnectionNotAvailable`` and makes another pass over the pool (probing every
    idle connection again), and may lose the next race too. Requests that enter one at a
    time never share a connection: each request of the async client enters the pool once
    the one before it took a connection (its ``connect_tcp`` or
    ``send_request_headers`` trace event) or left ``send``. The gate is taken after the
    token is attached (an httpx request hook), so a token refresh never holds it.
    Waiters pass in arrival order; a waiter cancelled after being let in lets the next in.
    Only the client's own transport (httpx's, over httpcore's pool) is gated: another
    transport may never report taking a connection, and would be sent one at a time.
    """

    __slots__ = ("_busy", "_waiters")

    def __init__(self) -> None:
        self._busy = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def busy(self) -> bool:
        """Whether a request is between entering the pool and taking a connection."""
        return self._busy

    def enter_now(self) -> bool:
        """Take the gate if it is free (no wait); whether it was taken."""
        if self._busy:
            return False
        self._busy = True
        return True

    async def enter(self) -> None:
        """Take the gate, after the requests already waiting."""
        if self.enter_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # let in, then cancelled: the next one goes
            raise

    def leave(self) -> None:
        """Let the next waiter in (the gate stays taken, handed over), or free the gate."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._busy = False


class PoolEntry:
    """One attempt's pass through its client's :class:`PoolGate`, and its httpcore trace.

    Kept in the request's ``vendorgate.pool`` extension; the client's request hook makes
    it the ``trace`` extension and passes the gate. httpcore calls the trace at each
    step of the exchange: taking a connection lets the next request into the pool, and
    when the client paces requests, the request headers reaching the wire is the moment
    the next ones are spaced from. Past that step the trace is taken off the request
    (httpcore would call it for every later step, for nothing).
    """

    __slots__ = ("_extensions", "_gate", "_inside", "_state")

    def __init__(self, gate: PoolGate | None, state: _RateState | None) -> None:
        self._gate = gate  # None: no gate (a transport of the caller's)
        self._inside = False
        self._state = state
        # the request's extensions while it is traced (no reference cycle left behind)
        self._extensions: dict[str, Any] | None = None

    async def enter(self, extensions: dict[str, Any]) -> None:
        """Pass the gate, traced (the client's request hook, once per send)."""
        extensions["trace"] = self
        self._extensions = extensions
        gate = self._gate
        if gate is not None:
            if not gate.enter_now():
                await gate.enter()
            self._inside = True

    def leave(self) -> None:
        """Let the next request in, if this one still holds the gate."""
        if self._inside and self._gate is not None:
            self._inside = False
            self._gate.leave()

    def done(self) -> None:
        """The send returned or failed: leave the gate, stop tracing."""
        self.leave()
        if self._extensions is not None:
            self._extensions.pop("trace", None)
            self._extensions = None

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            self.leave()
            if self._state is not None:
                self._state.on_wire()
            if self._extensions is not None:  # later steps need no trace
                self._extensions.pop("trace", None)
                self._extensions = None
        elif event.endswith(_CONNECTING):  # a new connection is this request's alone
            self.leave()


async def enter_pool(request: httpx.Request) -> None:
    """The async client's httpx request hook: the request passes its pool gate (after
    the auth flow attached the token, before the transport)."""
    extensions = request.extensions
    entry = extensions.get("vendorgate.pool")
    if entry is not None:
        await entry.enter(extensions)


class AsyncSender(Sender):
    """Sends one request of the async client: attempts, rate limit slot, retries."""

    _http: httpx.AsyncClient
    limiter: AsyncRateLimiter
    _gate: PoolGate | None

    def _send(
        self, request: httpx.Request, parse: _Parse[T], *, anonymous: bool = False
    ) -> Awaitable[T]:
        # a plain function returning the retry loop's coroutine: one coroutine less per
        # request (nothing here waits; the loop starts when the caller awaits it)
        state = self.limiter.state
        base_timeout, longest = self._timeouts(request)  # as in the sync shell
        kw = _ANONYMOUS if anonymous else _AS_CONFIGURED
        gate = self._gate

        async def once(deadline: float) -> T:
            # per attempt: the attempt may not outlast the budget, and a rate learnt
            # since the first attempt paces this one on its wire time too
            if deadline - time.monotonic() > longest:
                request.extensions["timeout"] = base_timeout
            else:
                request.extensions["timeout"] = attempt_timeout(base_timeout, deadline)
            paced = state.rate is not None or state.configured is not None
            entry = request.extensions["vendorgate.pool"] = PoolEntry(
                gate, state if paced else None
            )
            async with self.limiter.slot() as slot:
                try:
                    response = await self._http.send(request, stream=True, **kw)
                except httpx.TransportError as exc:
                    raise transport_failure(
                        exc, vendor=self.vendor, method=request.method, url=request_url(request.url)
                    ) from exc
                finally:
                    entry.done()  # a send that failed before taking a connection too
                try:
                    await aread_body(
                        response, deadline=deadline, limit=self.retry_policy.max_body_bytes
                    )
                except _UNREAD as exc:
                    self._unread(exc, request, response, request_url(request.url))
            state.replied(response.status_code, response.headers.raw)
            return self._check(response, parse, slot.ticket)

        return self._retrier.arun(once, method=request.method, url=lambda: request_url(request.url))
