"""Pagination strategies: how to ask for the next page and where the records are.

A strategy is immutable configuration. Paging state lives in :class:`PageRequest`
values (a URL and query parameters, plain JSON), so the position reached can be saved in
a checkpoint and a rerun can resume from it. Every strategy:

* builds the first request (:meth:`Paginator.first`),
* extracts the records of a page (``records_path``, a dotted path into the JSON body;
  ``None`` when the body itself is the list),
* builds the next request from the page just received (:meth:`Paginator.next`), and
* when it can, lists every remaining request up front (:meth:`Paginator.plan`) so the
  async client can fetch pages concurrently and still emit records in source order.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from vendorgate._errors import BadResponseError, ConfigurationError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CursorInBody",
    "Custom",
    "LinkHeader",
    "NextUrlInBody",
    "OffsetLimit",
    "Page",
    "PageNumber",
    "PageRequest",
    "Paginator",
    "PlannedPages",
    "dig",
    "paginator_from_mapping",
]


@dataclass(frozen=True)
class PageRequest:
    """One page to fetch: a URL (absolute, or relative to the client's base URL) and params.

    Attributes:
        url: Path or absolute URL.
        params: Query parameters (plain JSON values).
        meta: What a strategy learnt on earlier pages (e.g. the page size the server
            really uses), carried to the next request and into checkpoints; never sent.
    """

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, as stored in a checkpoint."""
        data: dict[str, Any] = {"url": self.url, "params": dict(self.params)}
        if self.meta:
            data["meta"] = dict(self.meta)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PageRequest:
        """Inverse of :meth:`to_dict`."""
        url = data.get("url")
        params = data.get("params") or {}
        meta = data.get("meta") or {}
        if not isinstance(url, str) or not isinstance(params, Mapping):
            raise ConfigurationError("is not a page request", field="checkpoint.position")
        if not isinstance(meta, Mapping):
            raise ConfigurationError("is not a page request", field="checkpoint.position")
        return cls(url, dict(params), dict(meta))

    def with_params(self, **params: Any) -> PageRequest:
        """A copy with ``params`` merged in (``meta`` kept)."""
        return PageRequest(self.url, {**self.params, **params}, self.meta)

    def with_meta(self, **meta: Any) -> PageRequest:
        """A copy with ``meta`` merged in."""
        return PageRequest(self.url, self.params, {**self.meta, **meta})


class PlannedPages(Sequence[PageRequest]):
    """The remaining requests of a strategy that knows them all, built on demand.

    Backed by a ``range``: its size in memory does not depend on the number of pages.

    Args:
        template: The request the others are derived from.
        param: The query parameter that changes from page to page.
        values: Its successive values.
        meta: Strategy state stored on every request.
    """

    def __init__(
        self, template: PageRequest, param: str, values: range, meta: Mapping[str, Any]
    ) -> None:
        self._template = template
        self._param = param
        self._values = values
        self._meta = dict(meta)
        self._page_meta = {**template.meta, **self._meta}  # every page's (copied per page)

    def __len__(self) -> int:
        return len(self._values)

    def _at(self, value: int) -> PageRequest:
        return PageRequest(
            self._template.url, {**self._template.params, self._param: value}, dict(self._page_meta)
        )

    @overload
    def __getitem__(self, index: int) -> PageRequest: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PageRequest]: ...

    def __getitem__(self, index: int | slice) -> PageRequest | Sequence[PageRequest]:
        if isinstance(index, slice):
            return PlannedPages(self._template, self._param, self._values[index], self._meta)
        return self._at(self._values[index])

    def __iter__(self) -> Iterator[PageRequest]:
        for value in self._values:
            yield self._at(value)

    def __repr__(self) -> str:
        return f"PlannedPages({self._param}={self._values!r})"


@dataclass(frozen=True)
class Page:
    """A fetched page.

    Attributes:
        request: The request that fetched it.
        records: Its records, in source order.
        next: The request for the page after it, ``None`` on the last page.
    """

    request: PageRequest
    records: list[Any]
    next: PageRequest | None


def dig(body: Any, path: str | None) -> Any:
    """Follow a dotted ``path`` (``"data.items"``) into a JSON ``body``; ``None`` if absent."""
    if not path:
        return body
    if type(body) is dict and "." not in path:  # the common case: one key of a JSON object
        return body.get(path)
    node = body
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _int_or_none(value: Any) -> int | None:
    if type(value) is int:  # the common case first (a bool is not an int here)
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@dataclass(frozen=True, kw_only=True)
class Paginator(ABC):
    """Base of all strategies.

    Attributes:
        records_path: Dotted path to the list of records in the JSON body (``None``: the
            body is the list).
        allow_cross_origin: Follow a next page whose scheme, host or port differ from the
            first request's. Such a page is fetched *without* the vendor token; by
            default it is refused with :class:`~vendorgate.BadResponseError`.
    """

    records_path: str | None = "items"
    allow_cross_origin: bool = False

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON: ``{"type": "page_number", ...}`` with the non-default settings.

        Inverse of :func:`paginator_from_mapping`.

        Raises:
            ConfigurationError: the strategy holds code (:class:`Custom`, a subclass),
                which has no plain form.
        """
        from vendorgate._mapping import dataclass_to_mapping

        name = next((n for n, c in PAGINATOR_TYPES.items() if c is type(self)), None)
        if name is None:
            raise ConfigurationError(
                f"a {type(self).__name__} paginator holds code and has no plain form; use "
                f"one of the types {', '.join(PAGINATOR_TYPES)} to write it out",
                field="paginator",
            )
        return {"type": name, **dataclass_to_mapping(self)}

    def first(self, url: str, params: Mapping[str, Any] | None = None) -> PageRequest:
        """The request for the first page."""
        return PageRequest(url, dict(params or {}))

    def records(self, body: Any, response: httpx.Response) -> list[Any]:
        """The records of a page, in order."""
        found = dig(body, self.records_path)
        if found is None and isinstance(body, Mapping) and self.records_path is not None:
            if self.records_path not in body:
                raise BadResponseError(
                    f"page has no {self.records_path!r} field: set records_path to where "
                    "the records are",
                    status=response.status_code,
                )
            return []
        if not isinstance(found, list):
            raise BadResponseError(
                f"records_path {self.records_path!r} is not a list in the page body",
                status=response.status_code,
            )
        return found

    @abstractmethod
    def next(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> PageRequest | None:
        """The request for the page after ``request``, or ``None`` after the last one."""

    def plan(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> Sequence[PageRequest] | None:
        """Every request after ``request`` when known up front, else ``None``."""
        return None


#: ``PageRequest.meta`` key: the page size the server was seen to use.
_SERVER_PAGE_SIZE = "server_page_size"


def _server_page_size(
    request: PageRequest, body: Any, records: list[Any], size_path: str | None
) -> int:
    """The page size the server really uses.

    In order: the body's page-size field, what an earlier page showed (``meta``), or
    this page's length (this is then the first page: full unless it is the only one).
    """
    said = _int_or_none(dig(body, size_path))
    if said is not None and said > 0:
        return said
    seen = _int_or_none(request.meta.get(_SERVER_PAGE_SIZE))
    if seen is not None and seen > 0:
        return seen
    return max(1, len(records))


@dataclass(frozen=True, kw_only=True)
class PageNumber(Paginator):
    """``?page=N&per_page=M``; stops at ``total_pages_path``/``total_path`` or a short page.

    The server may not honour ``page_size`` (it caps it, or ``size_param`` is ``None``):
    the page size it really uses is read from ``page_size_path`` in the body, else taken
    from the first page, and a page is "short" (the last) only against that size. Without
    a total, a first page shorter than ``page_size`` therefore costs one more request.

    Example:
        ``PageNumber(page_size=100, records_path="items")`` asks for ``?page=1&per_page=100``,
        then page 2, ... until ``pages`` in the body (or a short page).
    """

    page_param: str = "page"
    size_param: str | None = "per_page"
    page_size: int = 100
    start_page: int = 1
    total_pages_path: str | None = "pages"
    total_path: str | None = "total"
    page_size_path: str | None = "per_page"

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ConfigurationError("must be >= 1", field="page_size")

    def first(self, url: str, params: Mapping[str, Any] | None = None) -> PageRequest:
        """The request for page ``start_page``."""
        extra = {self.size_param: self.page_size} if self.size_param else {}
        return PageRequest(url, {**(params or {}), self.page_param: self.start_page, **extra})

    def _last_page(self, body: Any, size: int) -> int | None:
        pages = _int_or_none(dig(body, self.total_pages_path))
        if pages is not None:
            return self.start_page + pages - 1
        total = _int_or_none(dig(body, self.total_path))
        if total is not None:
            return self.start_page + max(0, math.ceil(total / size)) - 1
        return None

    def next(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> PageRequest | None:
        """Page ``N + 1`` unless this was the last page."""
        current = _int_or_none(request.params.get(self.page_param)) or self.start_page
        size = _server_page_size(request, body, records, self.page_size_path)
        last = self._last_page(body, size)
        if not records or (last is not None and current >= last):
            return None
        if last is None and len(records) < size:
            return None
        # one new request (not one per merged part): params and meta as with_params and
        # with_meta would give them
        return PageRequest(
            request.url,
            {**request.params, self.page_param: current + 1},
            {**request.meta, _SERVER_PAGE_SIZE: size},
        )

    def plan(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> Sequence[PageRequest] | None:
        """Pages ``N + 1`` to the last one, when the body says how many there are."""
        size = _server_page_size(request, body, records, self.page_size_path)
        last = self._last_page(body, size)
        if last is None:
            return None
        current = _int_or_none(request.params.get(self.page_param)) or self.start_page
        return PlannedPages(
            request, self.page_param, range(current + 1, last + 1), {_SERVER_PAGE_SIZE: size}
        )


@dataclass(frozen=True, kw_only=True)
class OffsetLimit(Paginator):
    """``?offset=N&limit=M``; stops at ``total_path`` or a short page.

    The offset advances by the records actually received, so a server that caps
    ``limit`` loses nothing; without a total, a page is "short" (the last) only when it
    is shorter than the first page.
    """

    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = 100
    start_offset: int = 0
    total_path: str | None = "total"

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ConfigurationError("must be >= 1", field="limit")

    def first(self, url: str, params: Mapping[str, Any] | None = None) -> PageRequest:
        """The request at ``start_offset``."""
        return PageRequest(
            url,
            {**(params or {}), self.offset_param: self.start_offset, self.limit_param: self.limit},
        )

    def _offset(self, request: PageRequest) -> int:
        return _int_or_none(request.params.get(self.offset_param)) or 0

    def next(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> PageRequest | None:
        """The next offset unless the end was reached."""
        offset = self._offset(request) + len(records)
        total = _int_or_none(dig(body, self.total_path))
        if not records or (total is not None and offset >= total):
            return None
        size = _server_page_size(request, body, records, None)
        if total is None and len(records) < size:
            return None
        return PageRequest(
            request.url,
            {**request.params, self.offset_param: offset},
            {**request.meta, _SERVER_PAGE_SIZE: size},
        )

    def plan(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> Sequence[PageRequest] | None:
        """Every remaining offset, when the body gives the total."""
        total = _int_or_none(dig(body, self.total_path))
        offset = self._offset(request)
        if total is None:
            return None
        if len(records) != self.limit and offset + len(records) < total:
            return None  # the server caps the limit: offsets are not predictable, go in turn
        start = offset + self.limit
        return PlannedPages(request, self.offset_param, range(start, total, self.limit), {})


@dataclass(frozen=True, kw_only=True)
class CursorInBody(Paginator):
    """``?cursor=C``, the next cursor read from ``cursor_path`` in the body."""

    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    limit_param: str | None = "limit"
    limit: int | None = 100

    def first(self, url: str, params: Mapping[str, Any] | None = None) -> PageRequest:
        """The request without a cursor."""
        extra = {self.limit_param: self.limit} if self.limit_param and self.limit else {}
        return PageRequest(url, {**(params or {}), **extra})

    def next(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> PageRequest | None:
        """The request with the body's next cursor, if any."""
        cursor = dig(body, self.cursor_path)
        if cursor in (None, "") or not records:
            return None
        return request.with_params(**{self.cursor_param: cursor})


@dataclass(frozen=True, kw_only=True)
class NextUrlInBody(Paginator):
    """The next page's full URL is in the body at ``next_path`` (``null`` on the last)."""

    next_path: str = "next"

    def next(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> PageRequest | None:
        """The body's next URL (resolved against this page's URL), if any."""
        nxt = dig(body, self.next_path)
        if not isinstance(nxt, str) or not nxt:
            return None
        return PageRequest(str(response.request.url.join(nxt)), {})


@dataclass(frozen=True, kw_only=True)
class LinkHeader(Paginator):
    """RFC 8288 ``Link: <...>; rel="next"`` header (GitHub style)."""

    rel: str = "next"

    def next(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> PageRequest | None:
        """The ``rel`` link of the response, if any."""
        link = response.links.get(self.rel)
        url = link.get("url") if link else None
        if not url:
            return None
        return PageRequest(str(response.request.url.join(url)), {})


NextFn = Callable[["PageRequest", "httpx.Response", Any, "list[Any]"], "PageRequest | None"]


@dataclass(frozen=True)
class Custom(Paginator):
    """Any other scheme: ``next_page(request, response, body, records)`` returns the next.

    Example:
        ``Custom(lambda req, resp, body, recs: ..., records_path="results")``
    """

    next_page: NextFn

    def next(
        self, request: PageRequest, response: httpx.Response, body: Any, records: list[Any]
    ) -> PageRequest | None:
        """Whatever ``next_page`` returns."""
        result = self.next_page(request, response, body, records)
        if result is not None and not isinstance(result, PageRequest):
            raise ConfigurationError("must return a PageRequest or None", field="next_page")
        return result


#: Plain names of the strategies that have a mapping form (``{"type": NAME, ...}``).
PAGINATOR_TYPES: dict[str, type[Paginator]] = {
    "page_number": PageNumber,
    "offset_limit": OffsetLimit,
    "cursor_in_body": CursorInBody,
    "next_url_in_body": NextUrlInBody,
    "link_header": LinkHeader,
}


def paginator_from_mapping(data: Mapping[str, Any], *, field: str = "paginator") -> Paginator:
    """Build a strategy from :meth:`Paginator.to_mapping` output.

    Example:
        >>> paginator_from_mapping({"type": "page_number", "page_size": 50})
        PageNumber(records_path='items', allow_cross_origin=False, page_param='page', \
size_param='per_page', page_size=50, start_page=1, total_pages_path='pages', \
total_path='total', page_size_path='per_page')

    Raises:
        ConfigurationError: not a table, an unknown ``type`` (lists the known ones), an
            unknown setting or a value of the wrong type; the error names the field.
    """
    from vendorgate._mapping import dataclass_from_mapping, join_field

    if not isinstance(data, Mapping):
        raise ConfigurationError(
            'must be a table such as {"type": "page_number", "page_size": 100}', field=field
        )
    values = dict(data)
    name = values.pop("type", None)
    cls = PAGINATOR_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigurationError(
            f"must be one of {', '.join(PAGINATOR_TYPES)}", field=join_field(field, "type")
        )
    return dataclass_from_mapping(cls, values, field=field)
