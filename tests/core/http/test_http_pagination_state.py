"""Paging state: a page request in its checkpoint form and back, what a strategy learnt
(``meta``) surviving a resume, planned pages, and the strategies' plain form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import ConfigurationError, ServerError
from vendorgate.http import (
    CursorInBody,
    Custom,
    OffsetLimit,
    PageNumber,
    PageRequest,
    RetryPolicy,
    VendorClient,
    paginator_from_mapping,
)
from vendorgate.http._pagination import PlannedPages


def test_a_page_request_survives_its_checkpoint_form() -> None:
    """What a checkpoint stores: url, params and, when there is any, meta."""
    request = PageRequest("/items", {"page": 3, "per_page": 100}, {"server_page_size": 40})
    data = request.to_dict()
    assert data == {
        "url": "/items",
        "params": {"page": 3, "per_page": 100},
        "meta": {"server_page_size": 40},
    }
    assert PageRequest.from_dict(json.loads(json.dumps(data))) == request
    assert PageRequest("/x", {"a": 1}).to_dict() == {"url": "/x", "params": {"a": 1}}
    assert PageRequest.from_dict({"url": "/x"}) == PageRequest("/x")
    assert PageRequest.from_dict({"url": "/x", "params": None, "meta": None}) == PageRequest("/x")


def test_the_checkpoint_form_is_a_copy() -> None:
    """Changing the stored (or loaded) form does not change the request."""
    params = {"page": 1}
    request = PageRequest("/items", params, {"m": 1})
    data = request.to_dict()
    data["params"]["page"] = 9
    data["meta"]["m"] = 9
    assert request == PageRequest("/items", {"page": 1}, {"m": 1})
    source: dict[str, Any] = {"url": "/items", "params": {"page": 2}, "meta": {"m": 2}}
    loaded = PageRequest.from_dict(source)
    source["params"]["page"] = 7
    source["meta"]["m"] = 7
    assert loaded == PageRequest("/items", {"page": 2}, {"m": 2})


@pytest.mark.parametrize(
    "data",
    [
        {"params": {}},
        {"url": 5},
        {"url": "/x", "params": [1]},
        {"url": "/x", "params": {}, "meta": [1]},
        {"url": "/x", "meta": "size"},
    ],
    ids=["no-url", "url-not-text", "params-not-a-table", "meta-not-a-table", "meta-text"],
)
def test_a_position_that_is_not_a_page_request_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        PageRequest.from_dict(data)
    assert info.value.field == "checkpoint.position"
    assert str(info.value) == "checkpoint.position: is not a page request"


def test_with_params_keeps_meta_and_with_meta_keeps_params() -> None:
    request = PageRequest("/items", {"a": 1, "b": 2}, {"m": 1})
    merged = PageRequest("/items", {"a": 1, "b": 3, "c": 4}, {"m": 1})
    assert request.with_params(b=3, c=4) == merged
    assert request.with_meta(n=2) == PageRequest("/items", {"a": 1, "b": 2}, {"m": 1, "n": 2})
    assert request == PageRequest("/items", {"a": 1, "b": 2}, {"m": 1})


def test_cursor_pages_keep_what_the_first_request_learnt() -> None:
    """The cursor strategy adds the cursor; url, other params and meta carry over."""
    resp = httpx.Response(200, request=httpx.Request("GET", "https://x.test/items"))
    first = PageRequest("/items", {"limit": 10, "q": "x"}, {"m": 1})
    nxt = CursorInBody().next(first, resp, {"next_cursor": "c2"}, [1])
    assert nxt == PageRequest("/items", {"limit": 10, "q": "x", "cursor": "c2"}, {"m": 1})


def test_planned_pages_index_slice_and_iterate_alike() -> None:
    """A plan's pages, however reached, are the template's url and params with the page
    parameter set, and the template's meta merged with the plan's."""
    template = PageRequest("/items", {"page": 1, "q": "x"}, {"seen": 1})
    plan = PlannedPages(template, "page", range(2, 6), {"server_page_size": 10})
    meta = {"seen": 1, "server_page_size": 10}
    expected = [PageRequest("/items", {"page": n, "q": "x"}, meta) for n in range(2, 6)]
    assert list(plan) == expected
    assert [plan[i] for i in range(len(plan))] == expected
    assert plan[-1] == expected[-1]
    part = plan[1:3]
    assert isinstance(part, PlannedPages)
    assert list(part) == expected[1:3]
    assert list(plan[::2]) == expected[::2]
    assert repr(plan) == "PlannedPages(page=range(2, 6))"
    page = plan[0]
    assert isinstance(page.meta, dict)
    page.meta["seen"] = 99
    assert plan[0].meta == meta  # each page has its own copy


class CappedPages:
    """Records 0..102 by page number; the server sends at most 40 per page and says
    nothing of its page size or total; page ``fail_at`` answers 500 while ``failing``."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.failing = True
        self.pages: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == self.fail_at and self.failing:
            return httpx.Response(500, json={"error": "boom"})
        self.pages.append(page)
        ids = range((page - 1) * 40, min(page * 40, 103))
        return httpx.Response(200, json={"items": [{"id": i} for i in ids]})


def test_a_resumed_pull_remembers_the_page_size_the_server_uses(tmp_path: Path) -> None:
    """The page size a capping server was seen to use is in the checkpoint: resumed at
    its short last page, the pull stops there instead of asking for one page more."""
    api = CappedPages(fail_at=3)
    target = tmp_path / "items.jsonl"
    strategy = PageNumber(page_size=100, total_pages_path=None, total_path=None)
    with VendorClient(
        FakeSource(),
        base_url="https://api.test",
        retry=RetryPolicy.none(),
        transport=httpx.MockTransport(api),
    ) as client:
        with pytest.raises(ServerError):
            client.pull("/items", strategy, output=target)
        api.failing = False
        result = client.pull("/items", strategy, output=target)
    assert api.pages == [1, 2, 3]
    assert result.records == 103
    ids = [json.loads(line)["id"] for line in target.read_text().splitlines()]
    assert ids == list(range(103))


def test_a_custom_paginator_has_no_plain_form() -> None:
    with pytest.raises(ConfigurationError) as info:
        Custom(lambda *a: None).to_mapping()
    assert info.value.field == "paginator"
    assert str(info.value) == (
        "paginator: a Custom paginator holds code and has no plain form; use one of the "
        "types page_number, offset_limit, cursor_in_body, next_url_in_body, link_header "
        "to write it out"
    )


def test_the_plain_form_names_the_type_and_the_settings() -> None:
    assert OffsetLimit(limit=10).to_mapping() == {"type": "offset_limit", "limit": 10}
    assert PageNumber().to_mapping() == {"type": "page_number"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            ["page_number"],
            'paginator: must be a table such as {"type": "page_number", "page_size": 100}',
        ),
        (
            {"type": "pages"},
            "paginator.type: must be one of page_number, offset_limit, cursor_in_body, "
            "next_url_in_body, link_header",
        ),
        (
            {"type": 5},
            "paginator.type: must be one of page_number, offset_limit, cursor_in_body, "
            "next_url_in_body, link_header",
        ),
    ],
)
def test_a_bad_plain_form_is_refused_with_the_choices(data: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        paginator_from_mapping(data)
    assert str(info.value) == message


def test_the_plain_form_error_names_the_callers_field() -> None:
    with pytest.raises(ConfigurationError) as info:
        paginator_from_mapping({"type": "nope"}, field="task.paginator")
    assert info.value.field == "task.paginator.type"
    with pytest.raises(ConfigurationError) as info:
        paginator_from_mapping("page_number", field="task.paginator")  # type: ignore[arg-type]
    assert info.value.field == "task.paginator"
    with pytest.raises(ConfigurationError) as info:
        paginator_from_mapping({"type": "page_number", "size": 1}, field="task.paginator")
    assert info.value.field == "task.paginator.size"
    assert paginator_from_mapping({"type": "cursor_in_body", "limit": 5}) == CursorInBody(limit=5)


def test_a_type_that_is_not_a_name_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigurationError) as info:
        paginator_from_mapping({"type": ["page_number"]})
    assert info.value.field == "paginator.type"
