"""Where a walk stops: the page size the body states, empty and odd next links and
cursors, optional limits, and what a custom strategy is given."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import BadResponseError, ConfigurationError
from vendorgate.http import (
    AsyncVendorClient,
    CursorInBody,
    Custom,
    NextUrlInBody,
    PageNumber,
    PageRequest,
    VendorClient,
)


class FilteredPages:
    """25 records by page number, 10 a page, the body stating ``per_page`` and ``total``;
    two records of page 1 are hidden from this caller, so page 1 has 8."""

    def __init__(self) -> None:
        self.pages: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        self.pages.append(page)
        ids = [i for i in range((page - 1) * 10, min(page * 10, 25)) if i not in (3, 4)]
        body = {"items": [{"id": i} for i in ids], "per_page": 10, "total": 25}
        return httpx.Response(200, json=body)


STRATEGY = PageNumber(page_size=10, total_pages_path=None)
EXPECTED = [i for i in range(25) if i not in (3, 4)]


def test_the_stated_page_size_counts_not_a_short_first_page() -> None:
    """With a total, the last page is the total over the page size the body states: a
    first page short of it (records hidden from this caller) does not add a page."""
    api = FilteredPages()
    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        ids = [r["id"] for r in client.paginate("/items", STRATEGY)]
    assert ids == EXPECTED
    assert api.pages == [1, 2, 3]


@pytest.mark.anyio
async def test_the_planned_pages_follow_the_stated_page_size() -> None:
    """The concurrent walk plans pages 2 and 3 from the same stated size."""
    api = FilteredPages()
    async with AsyncVendorClient(
        FakeSource(), base_url="https://api.test", concurrency=3, transport=httpx.MockTransport(api)
    ) as client:
        ids = [r["id"] async for r in client.paginate("/items", STRATEGY)]
    assert ids == EXPECTED
    assert sorted(api.pages) == [1, 2, 3]


def test_a_short_page_against_the_stated_size_is_the_last() -> None:
    """Without a total, a first page shorter than the size the body states ends the walk."""
    seen: list[int] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(int(request.url.params["page"]))
        return httpx.Response(200, json={"items": [{"id": i} for i in range(7)], "per_page": 10})

    strategy = PageNumber(page_size=100, total_pages_path=None, total_path=None)
    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        assert len(list(client.paginate("/items", strategy))) == 7
    assert seen == [1]


def test_a_server_giving_one_record_a_page_unsaid_is_walked_to_the_end() -> None:
    """A server that caps pages at one record without saying so: a first page of one is a
    full page of its real size, not a short last page; the walk ends on the empty page."""
    seen: list[int] = []

    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        seen.append(page)
        return httpx.Response(200, json={"items": [{"id": page}] if page <= 3 else []})

    strategy = PageNumber(page_size=100, total_pages_path=None, total_path=None)
    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        assert [r["id"] for r in client.paginate("/items", strategy)] == [1, 2, 3]
    assert seen == [1, 2, 3, 4]


def _reply(url: str = "https://api.test/items?page=1") -> httpx.Response:
    return httpx.Response(200, request=httpx.Request("GET", url))


def test_an_empty_cursor_ends_the_walk() -> None:
    first = CursorInBody().first("/items")
    assert CursorInBody().next(first, _reply(), {"next_cursor": ""}, [1]) is None
    assert CursorInBody().next(first, _reply(), {"next_cursor": None}, [1]) is None
    assert CursorInBody().next(first, _reply(), {"next_cursor": "c"}, []) is None


@pytest.mark.parametrize("value", ["", 2, {"href": "/items?page=2"}, None])
def test_a_next_link_that_is_not_a_url_ends_the_walk(value: object) -> None:
    nxt = NextUrlInBody().next(PageRequest("/items"), _reply(), {"next": value}, [1])
    assert nxt is None


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        (CursorInBody(), {"limit": 100}),
        (CursorInBody(limit=None), {}),
        (CursorInBody(limit_param=None), {}),
        (CursorInBody(limit_param="size", limit=5), {"size": 5}),
    ],
)
def test_the_cursor_limit_is_sent_only_when_both_are_set(
    strategy: CursorInBody, params: dict[str, Any]
) -> None:
    assert strategy.first("/items", {"q": "x"}) == PageRequest("/items", {"q": "x", **params})


def test_a_custom_strategy_is_given_the_reply() -> None:
    """The next page can come from the reply itself (here a header)."""

    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", 1))
        headers = {"X-Next-Page": str(page + 1)} if page < 3 else {}
        return httpx.Response(200, json={"items": [page]}, headers=headers)

    def by_header(
        req: PageRequest, resp: httpx.Response, body: Any, recs: list[Any]
    ) -> PageRequest | None:
        nxt = resp.headers.get("X-Next-Page")
        return req.with_params(page=int(nxt)) if nxt else None

    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        assert list(client.paginate("/items", Custom(by_header))) == [1, 2, 3]


def test_a_custom_strategy_returning_something_else_is_named() -> None:
    strategy = Custom(lambda *a: "page 2")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as info:
        strategy.next(PageRequest("/items"), _reply(), {"items": []}, [1])
    assert str(info.value) == "next_page: must return a PageRequest or None"


def test_a_stated_page_size_of_zero_is_ignored() -> None:
    """A body saying ``per_page: 0`` does not count: the pages' own length does."""
    seen: list[int] = []

    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        seen.append(page)
        ids = range((page - 1) * 10, min(page * 10, 25))
        body = {"items": [{"id": i} for i in ids], "per_page": 0, "total": 25}
        return httpx.Response(200, json=body)

    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        ids = [r["id"] for r in client.paginate("/items", STRATEGY)]
    assert ids == list(range(25))
    assert seen == [1, 2, 3]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": []}, "page has no 'items' field: set records_path to where the records are"),
        ({"items": {"a": 1}}, "records_path 'items' is not a list in the page body"),
        ([{"id": 1}], "records_path 'items' is not a list in the page body"),
    ],
    ids=["missing", "an-object", "body-is-a-list"],
)
def test_records_not_where_the_path_says_are_a_bad_response_naming_it(
    body: Any, message: str
) -> None:
    with pytest.raises(BadResponseError) as info:
        PageNumber().records(body, _reply())
    assert str(info.value) == message
    assert info.value.status == 200


def test_a_null_records_field_is_an_empty_page() -> None:
    assert PageNumber().records({"items": None}, _reply()) == []
