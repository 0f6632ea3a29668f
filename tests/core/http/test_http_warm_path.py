"""The request path's shortcuts (issue 14) do what the long way did.

Each shortcut keeps something from one request to the next (the merged URL) or skips
work when it cannot change the outcome; these tests hold each to the long way's result.
"""

from __future__ import annotations

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate.http import AsyncVendorClient, PageNumber, VendorClient
from vendorgate.http._send import MergedURL

BASES = ["http://127.0.0.1:9", "http://127.0.0.1:9/api", "http://127.0.0.1:9/api/v2/", ""]
URLS = [
    "/items",
    "items",
    "/items/",
    "/a%20b/c",
    "/items?fixed=1",
    "",
    "/",
    "https://other.example:8443/x?y=2",
    "http://127.0.0.1:9/api/items",
]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("params", [None, {"page": 2, "per_page": 10}])
def test_merged_url_builds_the_request_httpx_builds(
    base: str, url: str, params: dict[str, int] | None
) -> None:
    client = httpx.Client(base_url=base)
    merged = MergedURL()
    for _ in range(2):  # the first call merges, the second reuses
        fast = client.build_request("GET", merged(client.base_url, url), params=params)
        slow = client.build_request("GET", url, params=params)
        assert fast.url == slow.url
        assert str(fast.url) == str(slow.url)
        assert fast.headers == slow.headers
    client.close()


def test_merged_url_follows_a_new_base_url_and_a_new_url() -> None:
    client = httpx.Client(base_url="http://127.0.0.1:9/one")
    merged = MergedURL()
    assert str(merged(client.base_url, "/items")) == "http://127.0.0.1:9/one/items"
    client.base_url = "http://127.0.0.1:9/two"
    assert str(merged(client.base_url, "/items")) == "http://127.0.0.1:9/two/items"
    assert str(merged(client.base_url, "/other")) == "http://127.0.0.1:9/two/other"
    client.close()


def _pages(request: httpx.Request) -> httpx.Response:
    page = int(request.url.params["page"])
    return httpx.Response(
        200,
        json={
            "items": [{"host": request.url.host, "path": request.url.path, "page": page}],
            "total": 3,
            "per_page": 1,
        },
    )


def test_sync_walk_goes_to_the_base_url_in_force_at_each_request() -> None:
    client = VendorClient(
        FakeSource(), base_url="http://127.0.0.1:9/one", transport=httpx.MockTransport(_pages)
    )
    seen = []
    for page in client.iter_pages("/items", PageNumber(page_size=1)):
        seen.append(page.records[0]["path"])
        client.http.base_url = "http://127.0.0.1:9/two"  # changed mid-walk
    assert seen == ["/one/items", "/two/items", "/two/items"]
    assert client.get_json("/items", params={"page": 1})["items"][0]["path"] == "/two/items"
    client.close()


@pytest.mark.anyio
async def test_async_walk_goes_to_the_base_url_in_force_at_each_request() -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        return _pages(request)

    async with AsyncVendorClient(
        FakeSource(),
        base_url="http://127.0.0.1:9/one",
        transport=httpx.MockTransport(reply),
        concurrency=1,
    ) as client:
        seen = []
        async for page in client.iter_pages("/items", PageNumber(page_size=1)):
            seen.append(page.records[0]["path"])
            client.http.base_url = "http://127.0.0.1:9/two"
        assert seen == ["/one/items", "/two/items", "/two/items"]
        body = await client.get_json("/items", params={"page": 1})
        assert body["items"][0]["path"] == "/two/items"


def test_loop_guard_key_ignores_parameter_order_and_counts_value_types() -> None:
    from vendorgate.http import PageRequest
    from vendorgate.http._walk import _page_key

    a = PageRequest("/items", {"cursor": "c1", "limit": 10})
    assert _page_key(a) == _page_key(PageRequest("/items", {"limit": 10, "cursor": "c1"}))
    assert _page_key(a) == _page_key(PageRequest("/items", {"limit": 10, "cursor": "c1"}, {"m": 1}))
    keys = {
        _page_key(PageRequest("/items", {"cursor": value}))
        for value in (1, 1.0, True, "1", None, "c1")
    }
    assert len(keys) == 6
    assert _page_key(a) != _page_key(PageRequest("/other", {"cursor": "c1", "limit": 10}))
    # unhashable values (lists, tables) still have a key, order of table keys aside
    listed = PageRequest("/items", {"ids": [1, 2], "f": {"a": 1, "b": 2}})
    assert _page_key(listed) == _page_key(
        PageRequest("/items", {"f": {"b": 2, "a": 1}, "ids": [1, 2]})
    )
    assert _page_key(listed) != _page_key(
        PageRequest("/items", {"ids": [2, 1], "f": {"a": 1, "b": 2}})
    )


@pytest.mark.parametrize(
    "cursors",
    [["a", "b", "a"], [["x", 1], ["y", 2], ["x", 1]], [{"k": 1}, {"k": 2}, {"k": 1}]],
    ids=["strings", "lists", "tables"],
)
def test_loop_guard_catches_a_loop_of_any_cursor_shape(cursors: list[object]) -> None:
    """A cursor that comes back (string, list or table) ends the walk with the loop error."""
    from vendorgate import BadResponseError
    from vendorgate.http import Custom, PageRequest

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [1]})

    def next_page(req: PageRequest, resp: object, body: object, recs: object) -> PageRequest:
        n = int(req.params.get("n", 0)) + 1
        return PageRequest(req.url, {"n": n % 2 if n > 1 else n, "c": cursors[min(n, 2)]})

    client = VendorClient(
        FakeSource(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(reply)
    )
    with pytest.raises(BadResponseError, match="repeats an earlier one"):
        list(client.iter_pages("/items", Custom(next_page)))
    client.close()
