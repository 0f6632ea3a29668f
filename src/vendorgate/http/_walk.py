"""Walking through pages in order: the origin guard, the cycle guard, one page's records.

:class:`PageWalker` is shared by the sync and async clients; it needs only the client's
``vendor`` and a way to make a URL absolute.
"""

from __future__ import annotations

import json
from collections import deque
from typing import TYPE_CHECKING, Any

from vendorgate._errors import BadResponseError
from vendorgate.http._response import api_error

if TYPE_CHECKING:
    import httpx

    from vendorgate.http._pagination import PageRequest, Paginator

__all__ = ["PageWalker", "Walk", "origin"]

#: Pages remembered by the cycle guard: loops up to this length are caught, and memory
#: stays bounded however many pages a pull has.
_CYCLE_WINDOW = 10_000


def origin(url: httpx.URL) -> str:
    """``scheme://host:port`` of ``url`` (default ports spelt out)."""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return f"{url.scheme}://{url.host}:{port}"


def _page_key(request: PageRequest) -> int:
    """A compact identity of a page request (URL and parameters), for the cycle guard.

    Parameters in any order are the same page; a value's type counts (``1``, ``1.0``,
    ``True`` and ``"1"`` are four pages). Hashable values (strings, numbers: cursors and
    page numbers) are hashed as they are; a request with a list or a table among its
    values is hashed through its JSON text.
    """
    try:
        items = sorted([(k, v.__class__, v) for k, v in request.params.items()])
        return hash((request.url, *items))
    except TypeError:  # an unhashable value
        return hash(json.dumps([request.url, request.params], sort_keys=True, default=str))


class Walk:
    """Where a sequential walk through pages started, and the pages it saw last."""

    def __init__(self, origin: str, first_url: str) -> None:
        self.origin = origin
        self.first_url = first_url
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        # the key of the request last asked about: the next page's request, whose
        # ``saw`` follows (one JSON pass per page, not two)
        self._last: tuple[PageRequest | None, int] = (None, 0)

    def _key(self, request: PageRequest) -> int:
        last, key = self._last
        if request is not last:
            key = _page_key(request)
            self._last = (request, key)
        return key

    def saw(self, request: PageRequest) -> None:
        key = self._key(request)
        if key in self._seen:
            return
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > _CYCLE_WINDOW:
            self._seen.discard(self._order.popleft())

    def seen(self, request: PageRequest) -> bool:
        return self._key(request) in self._seen


class PageWalker:
    """The page walk shared by both clients (needs ``vendor`` and ``_absolute``)."""

    vendor: str

    def _absolute(self, url: str) -> httpx.URL:
        raise NotImplementedError  # pragma: no cover - both clients implement it

    def _walk(self, paginator: Paginator, first: PageRequest) -> Walk:
        return Walk(origin(self._absolute(first.url)), first.url)

    def _anonymous(
        self,
        paginator: Paginator,
        walk: Walk,
        request: PageRequest,
        response: httpx.Response | None = None,
    ) -> bool:
        """Whether ``request`` goes to another origin than the first page (then it is
        sent without the token, if the strategy allows it at all)."""
        if request.url == walk.first_url:
            return False
        target = origin(self._absolute(request.url))
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
        walk: Walk,
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
