"""Pagination strategies: request shapes, stop conditions, order, concurrency."""

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
    LinkHeader,
    NextUrlInBody,
    OffsetLimit,
    PageNumber,
    PageRequest,
    VendorClient,
)

TOTAL = 23


class Server:
    """A minimal paged API over records 0..TOTAL-1 (request shapes only)."""

    def __init__(self) -> None:
        self.requests: list[httpx.URL] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url)
        q = request.url.params
        ids = list(range(TOTAL))
        route = request.url.path.rsplit("/", 1)[-1]
        if route == "items":
            page, per = int(q.get("page", 1)), int(q.get("per_page", 10))
            chunk = ids[(page - 1) * per : page * per]
            return httpx.Response(
                200, json={"items": [{"id": i} for i in chunk], "pages": -(-TOTAL // per)}
            )
        if route == "nototal":
            page, per = int(q.get("page", 1)), int(q.get("per_page", 10))
            chunk = ids[(page - 1) * per : page * per]
            return httpx.Response(200, json={"data": {"rows": [{"id": i} for i in chunk]}})
        if route == "offset":
            off, lim = int(q.get("offset", 0)), int(q.get("limit", 10))
            chunk = ids[off : off + lim]
            return httpx.Response(200, json={"items": [{"id": i} for i in chunk], "total": TOTAL})
        if route == "cursor":
            off = int(q.get("cursor", "0"))
            lim = int(q.get("limit", 10))
            nxt = str(off + lim) if off + lim < TOTAL else None
            chunk = ids[off : off + lim]
            return httpx.Response(
                200, json={"items": [{"id": i} for i in chunk], "next_cursor": nxt}
            )
        if route in ("links", "linkheader"):
            page = int(q.get("page", 1))
            chunk = ids[(page - 1) * 10 : page * 10]
            nxt = f"/api/{route}?page={page + 1}" if page * 10 < TOTAL else None
            if route == "links":
                body = {"items": [{"id": i} for i in chunk], "next": nxt}
                return httpx.Response(200, json=body)
            headers = {"Link": f'<https://api.test{nxt}>; rel="next"'} if nxt else {}
            return httpx.Response(200, json=[{"id": i} for i in chunk], headers=headers)
        return httpx.Response(404, json={"error": "no route"})


def _ids(records: list[Any]) -> list[int]:
    return [r["id"] for r in records]


@pytest.fixture
def server() -> Server:
    """A fresh paged API."""
    return Server()


@pytest.fixture
def client(server: Server) -> VendorClient:
    """A sync client over the fake paged API."""
    return VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(server)
    )


STRATEGIES = {
    "page_number": ("/api/items", PageNumber(page_size=10)),
    "page_number_no_total": (
        "/api/nototal",
        PageNumber(page_size=10, records_path="data.rows", total_pages_path=None, total_path=None),
    ),
    "offset_limit": ("/api/offset", OffsetLimit(limit=10)),
    "cursor": ("/api/cursor", CursorInBody(limit=10)),
    "next_url": ("/api/links", NextUrlInBody()),
    "link_header": ("/api/linkheader", LinkHeader(records_path=None)),
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategy_yields_every_record_once_in_order(client: VendorClient, name: str) -> None:
    """Each strategy walks every page and yields every record once, in source order."""
    url, strategy = STRATEGIES[name]
    assert _ids(list(client.paginate(url, strategy))) == list(range(TOTAL))


def test_page_number_request_shape(client: VendorClient, server: Server) -> None:
    """PageNumber sends page and per_page and stops at the announced page count."""
    list(client.paginate("/api/items", PageNumber(page_size=10), params={"q": "x"}))
    assert [dict(u.params) for u in server.requests] == [
        {"q": "x", "page": str(p), "per_page": "10"} for p in (1, 2, 3)
    ]


def test_cursor_stops_on_null_cursor(client: VendorClient, server: Server) -> None:
    """CursorInBody passes the body's cursor and stops when it is null."""
    list(client.paginate("/api/cursor", CursorInBody(limit=10)))
    assert [u.params.get("cursor") for u in server.requests] == [None, "10", "20"]


def test_custom_strategy(client: VendorClient) -> None:
    """Custom(fn) pages any way fn decides."""

    def next_page(req: PageRequest, resp: httpx.Response, body: Any, recs: list[Any]):  # type: ignore[no-untyped-def]
        off = int(req.params.get("offset", 0)) + len(recs)
        return req.with_params(offset=off) if off < body["total"] else None

    strategy = Custom(next_page, records_path="items")
    assert _ids(list(client.paginate("/api/offset", strategy, params={"limit": 7}))) == list(
        range(TOTAL)
    )


def test_custom_strategy_must_return_a_page_request(client: VendorClient) -> None:
    """A Custom function returning something else is a ConfigurationError."""
    strategy = Custom(lambda *a: "page 2")
    with pytest.raises(ConfigurationError) as info:
        list(client.paginate("/api/offset", strategy))
    assert info.value.field == "next_page"


def test_wrong_records_path_is_a_bad_response(client: VendorClient) -> None:
    """A records_path that is not in the body says so, naming the path."""
    with pytest.raises(BadResponseError) as info:
        list(client.paginate("/api/items", PageNumber(records_path="results")))
    assert "'results'" in str(info.value)


def test_plan_lists_remaining_pages_when_total_is_known() -> None:
    """Page-number and offset strategies with a total can list every remaining page."""
    resp = httpx.Response(200, request=httpx.Request("GET", "https://x.test"))
    first = PageNumber(page_size=10).first("/x")
    plan = PageNumber(page_size=10).plan(first, resp, {"pages": 4}, [1] * 10)
    assert [p.params["page"] for p in plan or []] == [2, 3, 4]
    off = OffsetLimit(limit=10)
    plan = off.plan(off.first("/x"), resp, {"total": 25}, [1] * 10)
    assert [p.params["offset"] for p in plan or []] == [10, 20]
    assert CursorInBody().plan(first, resp, {}, []) is None


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["page_number", "offset_limit", "cursor", "link_header"])
async def test_async_concurrent_pages_keep_source_order(name: str) -> None:
    """The async client fetches pages concurrently when it can, in source order anyway."""
    url, strategy = STRATEGIES[name]
    server = Server()
    async with AsyncVendorClient(
        FakeSource(),
        base_url="https://api.test",
        concurrency=4,
        transport=httpx.MockTransport(server),
    ) as client:
        got = [r async for r in client.paginate(url, strategy)]
    assert _ids(got) == list(range(TOTAL))
    assert len(server.requests) == 3
