"""Every paginator sends exactly the requests its pages need: sequence and sandbox counters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from http_helpers import provider_for

from vendorgate.http import (
    CursorInBody,
    LinkHeader,
    NextUrlInBody,
    OffsetLimit,
    PageNumber,
    Paginator,
    RetryPolicy,
    VendorClient,
)

pytestmark = pytest.mark.slow

NO_TOTAL: dict[str, Any] = {"total_pages_path": None, "total_path": None}


class Recording(httpx.HTTPTransport):
    """The real transport, recording the query of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(dict(request.url.params))
        return super().handle_request(request)


def _walk(sandbox, route: str, strategy: Paginator, **params: Any) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Read the whole data set; return the query of every request sent, in order."""
    transport = Recording()
    with VendorClient(
        provider_for(sandbox),
        base_url=sandbox.api_url("lonewolf"),
        retry=RetryPolicy(attempts=1),
        transport=transport,
    ) as client:
        ids = [r["id"] for r in client.paginate(f"/{route}", strategy, params=params or None)]
    assert ids == list(range(sandbox.dataset_size))
    assert sandbox.counters().api("lonewolf") == len(transport.sent)
    return transport.sent


def _pages(n: int, size: int, *, key: str = "page", size_key: str = "per_page") -> list[dict]:
    return [{key: str(p), size_key: str(size)} for p in range(1, n + 1)]


def _offsets(n: int, size: int) -> list[dict[str, str]]:
    return [{"offset": str(i * size), "limit": str(size)} for i in range(n)]


# The sandbox holds 1000 records: 97 a page ends on a short 11th page, 100 a page on a full
# 10th one. Knowing the total, no strategy asks for the empty page after the last.
@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (PageNumber(page_size=97), _pages(11, 97)),
        (PageNumber(page_size=100), _pages(10, 100)),
        (PageNumber(page_size=97, **NO_TOTAL), _pages(11, 97)),
        # without a total a full last page cannot be told from a middle one: one empty page
        (PageNumber(page_size=100, **NO_TOTAL), _pages(11, 100)),
    ],
    ids=["size97", "size100", "size97-no-total", "size100-no-total"],
)
def test_page_number_requests(sandbox, strategy: Paginator, expected: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """PageNumber asks for pages 1..N once each, and no more."""
    assert _walk(sandbox, "items", strategy) == expected


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (OffsetLimit(limit=97), _offsets(11, 97)),
        (OffsetLimit(limit=100), _offsets(10, 100)),
        (OffsetLimit(limit=97, total_path=None), _offsets(11, 97)),
        (OffsetLimit(limit=100, total_path=None), _offsets(11, 100)),
    ],
    ids=["limit97", "limit100", "limit97-no-total", "limit100-no-total"],
)
def test_offset_limit_requests(sandbox, strategy: Paginator, expected: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """OffsetLimit asks for offsets 0, limit, 2*limit, ... once each, and no more."""
    assert _walk(sandbox, "offset", strategy) == expected


@pytest.mark.parametrize(("limit", "pages"), [(97, 11), (100, 10)])
def test_cursor_requests(sandbox, limit: int, pages: int) -> None:  # type: ignore[no-untyped-def]
    """CursorInBody sends one request per page: no cursor first, then each new cursor once."""
    sent = _walk(sandbox, "cursor", CursorInBody(limit=limit))
    assert len(sent) == pages
    assert all(q["limit"] == str(limit) for q in sent)
    assert "cursor" not in sent[0]
    cursors = [q["cursor"] for q in sent[1:]]
    assert len(set(cursors)) == pages - 1


@pytest.mark.parametrize(
    ("route", "strategy"),
    [("links", NextUrlInBody()), ("linkheader", LinkHeader(records_path=None))],
)
@pytest.mark.parametrize(("size", "pages"), [(97, 11), (100, 10)])
def test_next_link_requests(  # type: ignore[no-untyped-def]
    sandbox, route: str, strategy: Paginator, size: int, pages: int
) -> None:
    """Next-link strategies follow each link once and stop when there is none."""
    sent = _walk(sandbox, route, strategy, per_page=size)
    assert sent == [{"per_page": str(size)}, *_pages(pages, size)[1:]]


# Only a record count (no page count): the last page is ceil(total / size).
TOTAL_ONLY: dict[str, Any] = {"total_pages_path": None}


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (PageNumber(page_size=97, **TOTAL_ONLY), _pages(11, 97)),
        (PageNumber(page_size=100, **TOTAL_ONLY), _pages(10, 100)),
        (PageNumber(page_size=1000, **TOTAL_ONLY), _pages(1, 1000)),
    ],
    ids=["size97", "size100", "one-page"],
)
def test_page_number_requests_from_the_record_total(  # type: ignore[no-untyped-def]
    sandbox, strategy: Paginator, expected: list[dict]
) -> None:
    """With only the record total in the body, PageNumber still asks for no page past it."""
    assert _walk(sandbox, "items", strategy) == expected


@pytest.mark.parametrize("page_size_path", ["per_page", None])
def test_page_number_follows_the_page_size_the_server_uses(  # type: ignore[no-untyped-def]
    sandbox, page_size_path: str | None
) -> None:
    """A server that ignores the size parameter (100 a page, not 500) is read to the end:
    its pages are full by its own size, whether the body says it or the first page shows it."""
    strategy = PageNumber(page_size=500, size_param=None, page_size_path=page_size_path, **NO_TOTAL)
    sent = _walk(sandbox, "items", strategy)
    assert sent == [{"page": str(p)} for p in range(1, 12)]  # 10 full pages, one empty
