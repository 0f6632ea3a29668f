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


# --- next pages on another origin, loops -------------------------------------------


def _foreign(body_next: bool) -> tuple[Any, list[tuple[str, str | None]]]:
    """A vendor whose first page points to another host (body or Link header)."""
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("authorization")))
        if request.url.host == "api.test":
            target = "https://evil.example:8443/steal"
            if body_next:
                return httpx.Response(200, json={"items": [{"id": 0}], "next": target})
            return httpx.Response(
                200, json=[{"id": 0}], headers={"Link": f'<{target}>; rel="next"'}
            )
        if body_next:
            return httpx.Response(200, json={"items": [{"id": 1}], "next": None})
        return httpx.Response(200, json=[{"id": 1}])

    return handler, seen


@pytest.mark.parametrize(
    ("body_next", "strategy"),
    [(True, NextUrlInBody()), (False, LinkHeader(records_path=None))],
)
def test_next_page_on_another_origin_is_refused(body_next: bool, strategy: Any) -> None:
    """A next link to another host is refused, naming the strategy and the origin."""
    handler, seen = _foreign(body_next)
    client = VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(handler)
    )
    with client, pytest.raises(BadResponseError) as info:
        list(client.paginate("/api/x", strategy))
    message = str(info.value)
    assert type(strategy).__name__ in message
    assert "https://evil.example:8443" in message
    assert "s3cr3t" not in message
    assert [host for host, _ in seen] == ["api.test"]


@pytest.mark.parametrize(
    ("body_next", "strategy"),
    [
        (True, NextUrlInBody(allow_cross_origin=True)),
        (False, LinkHeader(records_path=None, allow_cross_origin=True)),
    ],
)
def test_cross_origin_opt_in_is_followed_without_the_token(body_next: bool, strategy: Any) -> None:
    """With allow_cross_origin=True the foreign page is fetched, but without the token."""
    handler, seen = _foreign(body_next)
    client = VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(handler)
    )
    with client:
        assert _ids(list(client.paginate("/api/x", strategy))) == [0, 1]
    assert seen[0] == ("api.test", "Bearer s3cr3t-token-1")
    assert seen[1] == ("evil.example", None)


def test_repeated_cursor_is_a_bad_response() -> None:
    """A server handing back the same cursor forever raises instead of looping."""
    handler = lambda r: httpx.Response(  # noqa: E731
        200, json={"items": [{"id": 1}], "next_cursor": "same"}, headers={"x-request-id": "r9"}
    )
    client = VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(handler)
    )
    with client, pytest.raises(BadResponseError) as info:
        list(client.paginate("/api/c", CursorInBody()))
    assert "repeats an earlier one" in str(info.value)
    assert info.value.request_id == "r9"


@pytest.mark.anyio
async def test_async_repeated_next_url_is_a_bad_response() -> None:
    """A next link pointing back to an earlier page raises instead of looping (async)."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("p", "1"))
        nxt = f"/api/l?p={page % 2 + 1}"  # 1 -> 2 -> 1 -> ...
        return httpx.Response(200, json={"items": [{"id": page}], "next": nxt})

    async with AsyncVendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(BadResponseError):
            [r async for r in client.paginate("/api/l", NextUrlInBody())]


# --- servers that do not honour the requested page size -------------------------------

CAPPED = 7  # the server's own page size, smaller than what is asked for
N = 40


def _capped(*, total: bool, per_page_field: bool = False) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        ids = list(range(N))
        if "offset" in q:
            off = int(q["offset"])
            chunk = ids[off : off + min(CAPPED, int(q.get("limit", CAPPED)))]
        else:
            page = int(q.get("page", 1))
            chunk = ids[(page - 1) * CAPPED : page * CAPPED]
        body: dict[str, Any] = {"items": [{"id": i} for i in chunk]}
        if total:
            body["total"] = N
        if per_page_field:
            body["per_page"] = CAPPED
        return httpx.Response(200, json=body)

    return handler


@pytest.mark.parametrize(
    ("strategy", "total", "per_page_field"),
    [
        (PageNumber(size_param=None, total_pages_path=None), True, False),
        (PageNumber(size_param=None, total_pages_path=None), False, False),
        (PageNumber(page_size=20, total_pages_path=None), True, False),
        (PageNumber(page_size=20, total_pages_path=None), False, False),
        (PageNumber(page_size=20, total_pages_path=None), False, True),
        (OffsetLimit(limit=20), False, False),
        (OffsetLimit(limit=20), True, False),
    ],
)
def test_server_page_size_smaller_than_requested_loses_nothing(
    strategy: Any, total: bool, per_page_field: bool
) -> None:
    """A server using a smaller page size than asked still yields every record once."""
    handler = _capped(total=total, per_page_field=per_page_field)
    client = VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(handler)
    )
    with client:
        assert _ids(list(client.paginate("/api/items", strategy))) == list(range(N))


@pytest.mark.anyio
async def test_async_capped_page_number_with_total_loses_nothing() -> None:
    """The concurrent plan uses the server's page size, not the requested one."""
    async with AsyncVendorClient(
        FakeSource(),
        base_url="https://api.test",
        concurrency=4,
        transport=httpx.MockTransport(_capped(total=True)),
    ) as client:
        strategy = PageNumber(page_size=20, total_pages_path=None)
        assert _ids([r async for r in client.paginate("/api/items", strategy)]) == list(range(N))


def test_plan_of_ten_million_pages_takes_constant_memory() -> None:
    """Listing the remaining pages does not build them all: its size is independent of N."""
    import tracemalloc

    resp = httpx.Response(200, request=httpx.Request("GET", "https://x.test"))
    strategy = PageNumber(page_size=10)
    first = strategy.first("/x")
    tracemalloc.start()
    try:
        plan = strategy.plan(first, resp, {"pages": 10_000_000}, [1] * 10)
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plan is not None
    assert len(plan) == 9_999_999
    assert plan[-1].params["page"] == 10_000_000
    assert used < 64 * 1024


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda n: PageNumber(page_size=n), "page_size"),
        (lambda n: OffsetLimit(limit=n), "limit"),
    ],
    ids=["page_size", "limit"],
)
def test_page_size_of_one_is_allowed_and_zero_is_refused(make, field: str) -> None:  # type: ignore[no-untyped-def]
    """A page of one record is a valid size; zero is refused naming the field."""
    assert make(1) is not None
    with pytest.raises(ConfigurationError) as info:
        make(0)
    assert info.value.field == field
    assert str(info.value) == f"{field}: must be >= 1"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data.0.items", [1, 2]),
        ("data.1.items", [3]),
        ("data.2.items", None),  # past the end of the list
        ("data.x.items", None),  # not an index
        ("data.0", {"items": [1, 2]}),
        ("", {"data": [{"items": [1, 2]}, {"items": [3]}]}),
        (None, {"data": [{"items": [1, 2]}, {"items": [3]}]}),
    ],
)
def test_records_path_walks_objects_and_list_indexes(path: str | None, expected: object) -> None:
    """A dotted path walks objects and list indexes; a missing step gives None, not an error."""
    from vendorgate.http._pagination import dig

    assert dig({"data": [{"items": [1, 2]}, {"items": [3]}]}, path) == expected
