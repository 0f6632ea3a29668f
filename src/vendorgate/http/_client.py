"""``VendorClient`` and ``AsyncVendorClient``: httpx with tokens, retries, rate limits, pages.

The clients are thin: sending and retries live in :mod:`vendorgate.http._send`, the page
walk in :mod:`vendorgate.http._walk`, concurrent fetching of planned pages in
:mod:`vendorgate.http._concurrent` and resumable pulls in :mod:`vendorgate.http._pull`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from vendorgate import _validate as check
from vendorgate import events
from vendorgate.http._concurrent import concurrent_pages
from vendorgate.http._pagination import Page, PageRequest, Paginator
from vendorgate.http._pull import PullResult, apull, begin_incremental, open_writer, pull
from vendorgate.http._ratelimit import AsyncRateLimiter, RateLimit, RateLimiter
from vendorgate.http._send import (
    DEFAULT_TIMEOUT,
    AsyncSender,
    MergedURL,
    PoolGate,
    SyncSender,
    enter_pool,
    httpx_options,
    no_parse,
    parse_json,
    reply_and_json,
)
from vendorgate.http._walk import PageWalker

if TYPE_CHECKING:
    import os
    from collections.abc import (
        AsyncGenerator,
        AsyncIterator,
        Awaitable,
        Callable,
        Iterator,
        Mapping,
    )
    from types import TracebackType

    from vendorgate._retry import RetryPolicy
    from vendorgate.http._incremental import Incremental
    from vendorgate.http._output import Output
    from vendorgate.http._send import _Parse
    from vendorgate.tokens import TokenSource

T = TypeVar("T")

__all__ = ["DEFAULT_TIMEOUT", "AsyncVendorClient", "PullResult", "VendorClient"]


class VendorClient(SyncSender, PageWalker):
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
        on_event: Called with each :mod:`vendorgate.events` event of this client's calls
            (token fetched, cache hit/miss, retry, rate-limited, page written, pull
            finished); an exception it raises is logged once and never breaks a call.

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
        on_event: events.EventCallback | None = None,
    ) -> None:
        super().__init__(
            source, base_url=base_url, vendor=vendor, retry=retry, rate_limit=rate_limit
        )
        self.on_event = _callback(on_event)
        self.limiter = RateLimiter(self.rate_limit)
        self._http = httpx.Client(
            **httpx_options(source, base_url, timeout, http2, headers, limits, verify, transport)
        )
        self._merged = MergedURL()

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

    def _absolute(self, url: str) -> httpx.URL:
        return self._http.build_request("GET", url).url

    def _send(self, request: httpx.Request, parse: _Parse[T], *, anonymous: bool = False) -> T:
        if self.on_event is None:  # nothing to listen with: no context to enter per request
            return super()._send(request, parse, anonymous=anonymous)
        with events.listen(self.on_event):
            return super()._send(request, parse, anonymous=anonymous)

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
        return self._send(request, no_parse)

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
        http = self._http
        request = http.build_request("GET", self._merged(http.base_url, url), params=params)
        return self._send(request, parse_json)

    def _fetch(self, page: PageRequest, *, anonymous: bool = False) -> tuple[httpx.Response, Any]:
        http = self._http
        request = http.build_request(
            "GET", self._merged(http.base_url, page.url), params=dict(page.params) or None
        )
        if anonymous:
            request.headers.pop("authorization", None)
        return self._send(request, reply_and_json, anonymous=anonymous)

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
        incremental: Incremental | None = None,
    ) -> PullResult:
        """Write every record to ``output`` (JSON Lines), resuming from its checkpoint.

        Records are written page by page (memory stays bounded); after each page a
        checkpoint records the position reached. Rerun the same call after a failure:
        it continues where the last checkpoint left off, with no duplicate and no gap.
        On success the final file appears atomically and the checkpoint is removed.

        With ``incremental`` only the records after the last successful run's
        high-water mark are asked for; the new mark is stored once the output is
        committed (see :class:`~vendorgate.http.Incremental`).
        """
        run, params = begin_incremental(incremental, output, params)
        writer = open_writer(paginator, url, params, output, self._absolute)
        with events.listen(self.on_event):
            return pull(
                writer,
                lambda start: self.iter_pages(url, paginator, start=start),
                run,
                vendor=self.vendor,
            )


class AsyncVendorClient(AsyncSender, PageWalker):
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
        on_event: events.EventCallback | None = None,
    ) -> None:
        super().__init__(
            source, base_url=base_url, vendor=vendor, retry=retry, rate_limit=rate_limit
        )
        self.on_event = _callback(on_event)
        check.integer(concurrency, "concurrency")
        self.concurrency = concurrency
        self.limiter = AsyncRateLimiter(self.rate_limit)
        # requests enter httpcore's pool one at a time (a transport of the caller's is
        # not gated: it may never report taking a connection)
        self._gate = PoolGate() if transport is None else None
        self._http = httpx.AsyncClient(
            **httpx_options(source, base_url, timeout, http2, headers, limits, verify, transport),
            event_hooks={"request": [enter_pool]},
        )
        self._merged = MergedURL()

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

    def _absolute(self, url: str) -> httpx.URL:
        return self._http.build_request("GET", url).url

    def _send(
        self, request: httpx.Request, parse: _Parse[T], *, anonymous: bool = False
    ) -> Awaitable[T]:
        # a plain function handing back the sender's awaitable: one coroutine less per
        # request, and no context to enter when there is nothing to listen with
        if self.on_event is None:
            return super()._send(request, parse, anonymous=anonymous)
        return self._send_listening(request, parse, anonymous)

    async def _send_listening(self, request: httpx.Request, parse: _Parse[T], anonymous: bool) -> T:
        with events.listen(self.on_event):
            return await super()._send(request, parse, anonymous=anonymous)

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
        return await self._send(request, no_parse)

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
        http = self._http
        request = http.build_request("GET", self._merged(http.base_url, url), params=params)
        return await self._send(request, parse_json)

    def _fetch(
        self, page: PageRequest, *, anonymous: bool = False
    ) -> Awaitable[tuple[httpx.Response, Any]]:
        http = self._http
        request = http.build_request(
            "GET", self._merged(http.base_url, page.url), params=dict(page.params) or None
        )
        if anonymous:
            request.headers.pop("authorization", None)
        return self._send(request, reply_and_json, anonymous=anonymous)

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
            pages = concurrent_pages(self._planned(paginator), plan, width)
            try:
                async for page in pages:
                    yield page
            finally:
                await pages.aclose()
            return

    def _planned(self, paginator: Paginator) -> Callable[[PageRequest], Awaitable[list[Any]]]:
        """Fetch one planned page's records (same origin as the first: sent with the token)."""

        async def one(req: PageRequest) -> list[Any]:
            response, body = await self._fetch(req)
            return self._records(paginator, response, body)

        return one

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
        incremental: Incremental | None = None,
    ) -> PullResult:
        """Async :meth:`VendorClient.pull` (pages fetched concurrently when possible)."""
        run = None
        if incremental is not None:  # the store may be remote: read it off the loop
            run, params = await asyncio.to_thread(begin_incremental, incremental, output, params)
        writer = open_writer(paginator, url, params, output, self._absolute)
        with events.listen(self.on_event):
            return await apull(
                writer,
                lambda start: self.iter_pages(url, paginator, start=start, concurrency=concurrency),
                run,
                vendor=self.vendor,
            )


def _callback(on_event: object) -> events.EventCallback | None:
    """``on_event`` checked: ``None`` or a callable (ConfigurationError otherwise)."""
    if on_event is None:
        return None
    if not callable(on_event):
        from vendorgate._errors import ConfigurationError

        raise ConfigurationError(
            f"must be a callable taking one event, got {type(on_event).__name__}",
            field="on_event",
        )
    return on_event
