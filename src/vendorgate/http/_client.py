"""``VendorClient`` and ``AsyncVendorClient``: httpx with tokens, retries, rate limits, pages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from vendorgate._errors import APIError, BadResponseError, ConfigurationError
from vendorgate.http._auth import VendorAuth
from vendorgate.http._output import Output, OutputWriter, as_output
from vendorgate.http._pagination import Page, PageRequest, Paginator
from vendorgate.http._ratelimit import AsyncRateLimiter, RateLimit, RateLimiter
from vendorgate.http._response import api_error, safe_url
from vendorgate.http._retry import (
    Retrier,
    RetryableFailure,
    RetryPolicy,
    attempt_timeout,
    parse_retry_after,
    retry_testing_active,
    transport_failure,
)

if TYPE_CHECKING:
    import os
    from types import TracebackType

    from vendorgate.tokens import TokenSource

__all__ = ["DEFAULT_TIMEOUT", "AsyncVendorClient", "PullResult", "VendorClient"]

logger = logging.getLogger("vendorgate.http")

T = TypeVar("T")

#: Timeouts used unless the caller gives others: connect, read, write, pool (seconds).
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0)

_Parse = Callable[[httpx.Response], T]


@dataclass(frozen=True)
class PullResult:
    """What a :meth:`VendorClient.pull` wrote.

    Attributes:
        output: The final file's path or URL.
        records: Records in the final file (including those of a resumed earlier run).
        pages: Pages fetched, over all runs.
        resumed: Whether this run continued from a checkpoint.
    """

    output: str
    records: int
    pages: int
    resumed: bool


def _h2_available() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        return False
    return True


def _parse_json(response: httpx.Response) -> Any:
    return response.json()


def _no_parse(response: httpx.Response) -> httpx.Response:
    return response


def _origin(url: httpx.URL) -> str:
    """``scheme://host:port`` of ``url`` (default ports spelt out)."""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return f"{url.scheme}://{url.host}:{port}"


def _page_key(request: PageRequest) -> int:
    """A compact identity of a page request (URL and parameters), for the cycle guard."""
    return hash(json.dumps([request.url, request.params], sort_keys=True, default=str))


def _decode_failure(response: httpx.Response, vendor: str, exc: Exception) -> RetryableFailure:
    err = api_error(
        response,
        vendor=vendor,
        reason=f"body could not be decoded ({type(exc).__name__}): check its Content-Encoding",
        cls=BadResponseError,
    )
    return RetryableFailure(err, cause="DecodingError")


#: Pages remembered by the cycle guard: loops up to this length are caught, and memory
#: stays bounded however many pages a pull has.
_CYCLE_WINDOW = 10_000


class _Walk:
    """Where a sequential walk through pages started, and the pages it saw last."""

    def __init__(self, origin: str, first_url: str) -> None:
        self.origin = origin
        self.first_url = first_url
        self._seen: set[int] = set()
        self._order: deque[int] = deque()

    def saw(self, request: PageRequest) -> None:
        key = _page_key(request)
        if key in self._seen:
            return
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > _CYCLE_WINDOW:
            self._seen.discard(self._order.popleft())

    def seen(self, request: PageRequest) -> bool:
        return _page_key(request) in self._seen


def _httpx_options(
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


class _Base:
    """What the sync and async clients share: configuration and reply checking."""

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
        self._retrier = Retrier(self.retry_policy, vendor=self.vendor)

    def _check(
        self,
        response: httpx.Response,
        parse: _Parse[T],
        throttled: Callable[[float | None], None],
    ) -> T:
        """Classify a fully read reply: value, retryable failure, or final typed error."""
        status = response.status_code
        policy = self.retry_policy
        if status == 429 or status in policy.retry_statuses:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if status == 429:  # every request of this client pauses, within the wait cap
                pause = None if retry_after is None else min(retry_after, policy.wait_max_s)
                throttled(None if retry_testing_active() else pause)
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
                raise RetryableFailure(err, retry_after_s=retry_after, cause=f"status {status}")
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
        if status >= 400:
            reason = {
                401: "credentials refused (check client id, secret and audience)",
                403: "permission denied (check the client's scopes or roles)",
                404: "not found (check the path and the base URL)",
            }.get(status, "request refused (check the path, parameters and body)")
            raise api_error(response, vendor=self.vendor, reason=reason)
        try:
            return parse(response)
        except (ValueError, UnicodeDecodeError) as exc:
            err = api_error(
                response,
                vendor=self.vendor,
                reason=f"unparseable body ({type(exc).__name__}): truncated or not JSON",
                cls=BadResponseError,
            )
            if policy.retry_bad_body:
                raise RetryableFailure(err, cause=f"bad body ({type(exc).__name__})") from exc
            raise err from exc

    def _absolute(self, url: str) -> httpx.URL:
        raise NotImplementedError  # pragma: no cover - both clients implement it

    def _writer(
        self,
        paginator: Paginator,
        url: str,
        params: Mapping[str, Any] | None,
        output: Output | str | os.PathLike[str],
    ) -> OutputWriter:
        first = paginator.first(url, params)
        return OutputWriter(
            as_output(output), first, base_url=str(self._absolute(first.url)), paginator=paginator
        )

    def _walk(self, paginator: Paginator, first: PageRequest) -> _Walk:
        return _Walk(_origin(self._absolute(first.url)), first.url)

    def _anonymous(
        self,
        paginator: Paginator,
        walk: _Walk,
        request: PageRequest,
        response: httpx.Response | None = None,
    ) -> bool:
        """Whether ``request`` goes to another origin than the first page (then it is
        sent without the token, if the strategy allows it at all)."""
        if request.url == walk.first_url:
            return False
        target = _origin(self._absolute(request.url))
        if target == walk.origin:
            return False
        if paginator.allow_cross_origin:
            return True
        name = type(paginator).__name__
        reason = (
            f"{name}: the next page is on another origin ({target}) than the first "
            f"request ({walk.origin}); the {self.vendor} token is not sent there. Pass "
            f"{name}(allow_cross_origin=True) to follow it without the token"
        )
        if response is None:
            raise BadResponseError(f"{self.vendor}: {reason}", vendor=self.vendor)
        raise api_error(response, vendor=self.vendor, reason=reason, cls=BadResponseError)

    def _records(self, paginator: Paginator, response: httpx.Response, body: Any) -> list[Any]:
        try:
            return paginator.records(body, response)
        except BadResponseError as exc:
            raise api_error(
                response, vendor=self.vendor, reason=str(exc), cls=BadResponseError
            ) from None

    def _page_of(
        self,
        paginator: Paginator,
        request: PageRequest,
        response: httpx.Response,
        body: Any,
        walk: _Walk,
    ) -> tuple[list[Any], PageRequest | None]:
        records = self._records(paginator, response, body)
        nxt = paginator.next(request, response, body, records)
        if nxt is None:
            return records, None
        walk.saw(request)
        if walk.seen(nxt):
            name = type(paginator).__name__
            raise api_error(
                response,
                vendor=self.vendor,
                reason=(
                    f"{name}: the next page repeats an earlier one (the server's cursor or "
                    "next link loops); report it to the vendor"
                ),
                cls=BadResponseError,
            )
        self._anonymous(paginator, walk, nxt, response)
        return records, nxt


class VendorClient(_Base):
    """A synchronous vendor API client.

    Sends the cached token (:class:`VendorAuth`), retries under a :class:`RetryPolicy`,
    paces requests under a :class:`RateLimit` (thread-safe: share one client between
    threads), and pages through results. HTTP/2 is used when the ``http2`` extra is
    installed and the server offers it (TLS); connections are pooled; timeouts are set by
    default (:data:`DEFAULT_TIMEOUT`).

    Args:
        source: Token source (a ``TokenProvider``); ``None`` sends no token.
        base_url: Prefix for relative URLs.
        vendor: Name used in errors and logs (default: ``source.vendor``).
        retry: Retry policy (default :class:`RetryPolicy()`).
        rate_limit: Rate and concurrency limit (default: none, but 429s are learned).
        timeout: httpx timeout (default :data:`DEFAULT_TIMEOUT`).
        http2: Force HTTP/2 on or off; default on when ``h2`` is installed.
        headers: Extra headers sent with every request.
        limits: httpx connection pool limits.
        transport: Custom httpx transport (tests).
        verify: TLS verification (``True``, a CA bundle path, or an ``ssl.SSLContext``).

    Example:
        >>> with VendorClient(provider, base_url="https://api.example.com") as client:
        ...     for record in client.paginate("/items", PageNumber()):
        ...         ...
    """

    def __init__(
        self,
        source: TokenSource | None = None,
        *,
        base_url: str = "",
        vendor: str | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        http2: bool | None = None,
        headers: Mapping[str, str] | None = None,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: Any = True,
    ) -> None:
        super().__init__(
            source, base_url=base_url, vendor=vendor, retry=retry, rate_limit=rate_limit
        )
        self.limiter = RateLimiter(self.rate_limit)
        self._http = httpx.Client(
            **_httpx_options(source, base_url, timeout, http2, headers, limits, verify, transport)
        )

    @property
    def http(self) -> httpx.Client:
        """The underlying ``httpx.Client`` (bypasses retries and the rate limit)."""
        return self._http

    def __enter__(self) -> VendorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _trace(self, event: str, info: Mapping[str, Any]) -> None:
        # httpcore reports when the request headers hit the wire: pace on that moment
        if event.endswith("send_request_headers.started"):
            self.limiter.state.on_wire()

    def _absolute(self, url: str) -> httpx.URL:
        return self._http.build_request("GET", url).url

    def _send(self, request: httpx.Request, parse: _Parse[T], *, anonymous: bool = False) -> T:
        url = safe_url(request.url)
        state = self.limiter.state
        base_timeout = dict(request.extensions.get("timeout") or {})
        kw: dict[str, Any] = {"auth": None} if anonymous else {}

        def once(deadline: float) -> T:
            # per attempt: the attempt may not outlast the budget, and a rate learnt
            # since the first attempt paces this one on its wire time too
            request.extensions["timeout"] = attempt_timeout(base_timeout, deadline)
            if state.rate is not None or state.configured is not None:
                request.extensions["trace"] = self._trace
            with self.limiter.slot() as slot:
                try:
                    response = self._http.send(request, stream=True, **kw)
                except httpx.TransportError as exc:
                    raise transport_failure(
                        exc, vendor=self.vendor, method=request.method, url=url
                    ) from exc
                try:
                    response.read()
                except httpx.TransportError as exc:
                    response.close()
                    raise transport_failure(
                        exc, vendor=self.vendor, method=request.method, url=url
                    ) from exc
                except httpx.DecodingError as exc:
                    response.close()
                    raise _decode_failure(response, self.vendor, exc) from exc

            def throttled(retry_after: float | None) -> None:
                self.limiter.throttled(slot.ticket, retry_after)

            return self._check(response, parse, throttled)

        return self._retrier.run(once, method=request.method, url=url)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request with retries; return the (read) response of a 2xx/3xx.

        Raises:
            AuthenticationError: 401 with a fresh token.
            PermissionDeniedError: 403 that is not a token refusal.
            RateLimitError: 429 until the retry budget ran out.
            ServerError: 5xx until the retry budget ran out.
            TransportError: connection errors or timeouts until the budget ran out.
            APIError: any other 4xx.
        """
        request = self._http.build_request(
            method, url, params=params, json=json, data=data, content=content, headers=headers
        )
        return self._send(request, _no_parse)

    def get(self, url: str, *, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """``GET`` with retries (see :meth:`request`)."""
        return self.request("GET", url, params=params)

    def post(
        self,
        url: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """``POST`` (retried only if the policy's ``retry_methods`` has ``"POST"``)."""
        return self.request("POST", url, json=json, data=data, params=params)

    def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` and parse JSON; a truncated or non-JSON body is retried, then
        :class:`BadResponseError`."""
        request = self._http.build_request("GET", url, params=params)
        return self._send(request, _parse_json)

    def _fetch(self, page: PageRequest, *, anonymous: bool = False) -> tuple[httpx.Response, Any]:
        request = self._http.build_request("GET", page.url, params=dict(page.params) or None)
        if anonymous:
            request.headers.pop("authorization", None)
        return self._send(request, lambda r: (r, r.json()), anonymous=anonymous)

    def iter_pages(
        self,
        url: str,
        paginator: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        start: PageRequest | None = None,
    ) -> Iterator[Page]:
        """Yield pages in order, from ``start`` (a checkpoint position) or the first.

        Raises:
            BadResponseError: A next page on another origin than the first one (unless
                the strategy has ``allow_cross_origin=True``), or a next page that
                repeats an earlier one (a loop).
        """
        first = paginator.first(url, params)
        walk = self._walk(paginator, first)
        req: PageRequest | None = start or first
        while req is not None:
            response, body = self._fetch(req, anonymous=self._anonymous(paginator, walk, req))
            records, nxt = self._page_of(paginator, req, response, body, walk)
            yield Page(req, records, nxt)
            req = nxt

    def paginate(
        self, url: str, paginator: Paginator, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[Any]:
        """Yield every record of every page, in source order."""
        for page in self.iter_pages(url, paginator, params=params):
            yield from page.records

    def pull(
        self,
        url: str,
        paginator: Paginator,
        *,
        output: Output | str | os.PathLike[str],
        params: Mapping[str, Any] | None = None,
    ) -> PullResult:
        """Write every record to ``output`` (JSON Lines), resuming from its checkpoint.

        Records are written page by page (memory stays bounded); after each page a
        checkpoint records the position reached. Rerun the same call after a failure:
        it continues where the last checkpoint left off, with no duplicate and no gap.
        On success the final file appears atomically and the checkpoint is removed.
        """
        writer = self._writer(paginator, url, params, output)
        start = writer.open()
        try:
            if start is not None:
                for page in self.iter_pages(url, paginator, start=start):
                    writer.write_page(page.records, page.next)
            final = writer.commit()
        except BaseException:
            writer.close()
            raise
        return PullResult(final, writer.records, writer.pages, writer.resumed)


class AsyncVendorClient(_Base):
    """The asyncio twin of :class:`VendorClient`.

    Shares its arguments, plus ``concurrency``: the pages fetched at once by
    :meth:`paginate`/:meth:`pull` when the strategy knows every page up front (page
    number or offset/limit with a total); records are still emitted in source order.
    """

    def __init__(
        self,
        source: TokenSource | None = None,
        *,
        base_url: str = "",
        vendor: str | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
        concurrency: int = 4,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        http2: bool | None = None,
        headers: Mapping[str, str] | None = None,
        limits: httpx.Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
    ) -> None:
        super().__init__(
            source, base_url=base_url, vendor=vendor, retry=retry, rate_limit=rate_limit
        )
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError("must be an integer >= 1", field="concurrency")
        self.concurrency = concurrency
        self.limiter = AsyncRateLimiter(self.rate_limit)
        self._http = httpx.AsyncClient(
            **_httpx_options(source, base_url, timeout, http2, headers, limits, verify, transport)
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """The underlying ``httpx.AsyncClient`` (bypasses retries and the rate limit)."""
        return self._http

    async def __aenter__(self) -> AsyncVendorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _atrace(self, event: str, info: Mapping[str, Any]) -> None:
        # httpcore reports when the request headers hit the wire: pace on that moment
        if event.endswith("send_request_headers.started"):
            self.limiter.state.on_wire()

    def _absolute(self, url: str) -> httpx.URL:
        return self._http.build_request("GET", url).url

    async def _send(
        self, request: httpx.Request, parse: _Parse[T], *, anonymous: bool = False
    ) -> T:
        url = safe_url(request.url)
        state = self.limiter.state
        base_timeout = dict(request.extensions.get("timeout") or {})
        kw: dict[str, Any] = {"auth": None} if anonymous else {}

        async def once(deadline: float) -> T:
            # per attempt: the attempt may not outlast the budget, and a rate learnt
            # since the first attempt paces this one on its wire time too
            request.extensions["timeout"] = attempt_timeout(base_timeout, deadline)
            if state.rate is not None or state.configured is not None:
                request.extensions["trace"] = self._atrace
            async with self.limiter.slot() as slot:
                try:
                    response = await self._http.send(request, stream=True, **kw)
                except httpx.TransportError as exc:
                    raise transport_failure(
                        exc, vendor=self.vendor, method=request.method, url=url
                    ) from exc
                try:
                    await response.aread()
                except httpx.TransportError as exc:
                    await response.aclose()
                    raise transport_failure(
                        exc, vendor=self.vendor, method=request.method, url=url
                    ) from exc
                except httpx.DecodingError as exc:
                    await response.aclose()
                    raise _decode_failure(response, self.vendor, exc) from exc

            def throttled(retry_after: float | None) -> None:
                self.limiter.throttled(slot.ticket, retry_after)

            return self._check(response, parse, throttled)

        return await self._retrier.arun(once, method=request.method, url=url)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Async :meth:`VendorClient.request`."""
        request = self._http.build_request(
            method, url, params=params, json=json, data=data, content=content, headers=headers
        )
        return await self._send(request, _no_parse)

    async def get(self, url: str, *, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """Async :meth:`VendorClient.get`."""
        return await self.request("GET", url, params=params)

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Async :meth:`VendorClient.post`."""
        return await self.request("POST", url, json=json, data=data, params=params)

    async def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """Async :meth:`VendorClient.get_json`."""
        request = self._http.build_request("GET", url, params=params)
        return await self._send(request, _parse_json)

    async def _fetch(
        self, page: PageRequest, *, anonymous: bool = False
    ) -> tuple[httpx.Response, Any]:
        request = self._http.build_request("GET", page.url, params=dict(page.params) or None)
        if anonymous:
            request.headers.pop("authorization", None)
        return await self._send(request, lambda r: (r, r.json()), anonymous=anonymous)

    async def iter_pages(
        self,
        url: str,
        paginator: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        start: PageRequest | None = None,
        concurrency: int | None = None,
    ) -> AsyncGenerator[Page, None]:
        """Yield pages in source order; fetch up to ``concurrency`` at once when the
        strategy can list the remaining pages (known total)."""
        width = self.concurrency if concurrency is None else concurrency
        first = paginator.first(url, params)
        walk = self._walk(paginator, first)
        req: PageRequest | None = start or first
        while req is not None:
            anonymous = self._anonymous(paginator, walk, req)
            response, body = await self._fetch(req, anonymous=anonymous)
            records, nxt = self._page_of(paginator, req, response, body, walk)
            plan = (
                paginator.plan(req, response, body, records)
                if width > 1 and nxt and not anonymous
                else None
            )
            if not plan:
                yield Page(req, records, nxt)
                req = nxt
                continue
            yield Page(req, records, plan[0])
            pages = self._concurrent(paginator, plan, width)
            try:
                async for page in pages:
                    yield page
            finally:
                await pages.aclose()
            return

    async def _concurrent(
        self, paginator: Paginator, plan: Sequence[PageRequest], width: int
    ) -> AsyncGenerator[Page, None]:
        async def one(req: PageRequest) -> Page:
            response, body = await self._fetch(req)
            return Page(req, self._records(paginator, response, body), None)

        pending: deque[asyncio.Task[Page]] = deque()
        total = len(plan)
        launched = 0

        def launch() -> None:
            nonlocal launched
            pending.append(asyncio.ensure_future(one(plan[launched])))
            launched += 1

        try:
            while launched < min(width, total):
                launch()
            emitted = 0
            while pending:
                page = await pending.popleft()
                if launched < total:
                    launch()
                emitted += 1
                following = plan[emitted] if emitted < total else None
                yield Page(page.request, page.records, following)
        finally:
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(BaseException):
                    await task

    async def paginate(
        self,
        url: str,
        paginator: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        concurrency: int | None = None,
    ) -> AsyncIterator[Any]:
        """Yield every record of every page, in source order."""
        pages = self.iter_pages(url, paginator, params=params, concurrency=concurrency)
        try:
            async for page in pages:
                for record in page.records:
                    yield record
        finally:
            await pages.aclose()

    async def pull(
        self,
        url: str,
        paginator: Paginator,
        *,
        output: Output | str | os.PathLike[str],
        params: Mapping[str, Any] | None = None,
        concurrency: int | None = None,
    ) -> PullResult:
        """Async :meth:`VendorClient.pull` (pages fetched concurrently when possible)."""
        # file I/O (write, flush, fsync, rename, upload) runs in a worker thread so the
        # event loop keeps serving the requests in flight
        writer = self._writer(paginator, url, params, output)
        start = await asyncio.to_thread(writer.open)
        try:
            if start is not None:
                pages = self.iter_pages(url, paginator, start=start, concurrency=concurrency)
                try:
                    async for page in pages:
                        await asyncio.to_thread(writer.write_page, page.records, page.next)
                finally:
                    await pages.aclose()
            final = await asyncio.to_thread(writer.commit)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(writer.close))
            raise
        return PullResult(final, writer.records, writer.pages, writer.resumed)
