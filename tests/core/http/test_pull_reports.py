"""What a pull reports, exactly: a PageWritten per page with the running totals, one
PullFinished and one INFO line with the run's figures, across a failed run and its resume,
sync and async."""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import APIError, events
from vendorgate.http import AsyncVendorClient, PageNumber, RetryPolicy, VendorClient

POLICY = RetryPolicy(attempts=3, wait_initial_s=0.001, wait_max_s=0.002, timeout_s=10)


class Pages:
    """25 records, 10 a page; page 2 answers 400 while ``failing``, then page 3 one 429
    and one 503 (the async pull may ask for page 3 in the failing run too: they come after)."""

    def __init__(self) -> None:
        self.failing = True
        self.page3_failures = [503, 429]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == 2 and self.failing:
            return httpx.Response(400, json={"error": "bad"})
        if page == 3 and not self.failing and self.page3_failures:
            status = self.page3_failures.pop()
            return httpx.Response(status, headers={"Retry-After": "0"}, json={})
        ids = range((page - 1) * 10, min(page * 10, 25))
        return httpx.Response(200, json={"items": [{"id": i} for i in ids], "pages": 3})


def _options(api: Pages, seen: list[events.Event]) -> dict[str, object]:
    """The client every test here builds: the fake API, the fast policy, events to ``seen``."""
    return {
        "source": FakeSource(),
        "base_url": "https://api.test",
        "retry": POLICY,
        "vendor": "acme",
        "transport": httpx.MockTransport(api),
        "on_event": seen.append,
    }


def _figures(seen: list[events.Event]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for e in seen:
        if isinstance(e, events.PageWritten):
            out.append(("page", e.output, e.pages, e.page_records, e.records))
        elif isinstance(e, events.PullFinished):
            assert 0 <= e.elapsed_s < 60
            counts = (e.retries, e.rate_limited, e.token_requests)
            out.append(("done", e.output, e.pages, e.records, e.resumed, *counts))
    return out


def _check_log(caplog: pytest.LogCaptureFixture, target: Path) -> None:
    lines = [r.getMessage() for r in caplog.records if "pulled" in r.getMessage()]
    assert len(lines) == 1, lines
    expected = (
        rf"acme: pulled 25 records in 3 pages to {re.escape(str(target))} in \d+\.\d s, "
        r"resumed \(2 retries, 1 rate-limited, 0 token requests\)"
    )
    assert re.fullmatch(expected, lines[0]), lines[0]


def test_a_resumed_pull_reports_every_page_and_its_figures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Page 1, a failure, then pages 2 and 3 on the rerun; the totals span both runs."""
    api, seen = Pages(), []
    target = tmp_path / "items.jsonl"
    with (
        caplog.at_level(logging.INFO, logger="vendorgate.http"),
        VendorClient(
            **_options(api, seen),
        ) as client,
    ):
        with pytest.raises(APIError):
            client.pull("/items", PageNumber(page_size=10), output=target)
        assert _figures(seen) == [("page", str(target), 1, 10, 10)]
        seen.clear()
        api.failing = False
        result = client.pull("/items", PageNumber(page_size=10), output=target)
    assert _figures(seen) == [
        ("page", str(target), 2, 10, 20),
        ("page", str(target), 3, 5, 25),
        ("done", str(target), 3, 25, True, 2, 1, 0),
    ]
    assert (result.output, result.records, result.pages, result.resumed) == (
        str(target),
        25,
        3,
        True,
    )
    assert (result.retries, result.rate_limited, result.token_requests) == (2, 1, 0)
    assert 0 < result.elapsed_s < 60
    _check_log(caplog, target)


@pytest.mark.anyio
async def test_an_async_resumed_pull_reports_the_same(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The async pull: the same events, result and log line."""
    api, seen = Pages(), []
    target = tmp_path / "items.jsonl"
    with caplog.at_level(logging.INFO, logger="vendorgate.http"):
        async with AsyncVendorClient(
            **_options(api, seen),
        ) as client:
            with pytest.raises(APIError):
                await client.pull("/items", PageNumber(page_size=10), output=target)
            assert _figures(seen) == [("page", str(target), 1, 10, 10)]
            seen.clear()
            api.failing = False
            result = await client.pull("/items", PageNumber(page_size=10), output=target)
    assert _figures(seen) == [
        ("page", str(target), 2, 10, 20),
        ("page", str(target), 3, 5, 25),
        ("done", str(target), 3, 25, True, 2, 1, 0),
    ]
    assert (result.records, result.pages, result.resumed, result.retries) == (25, 3, True, 2)
    assert 0 <= result.elapsed_s < 60
    _check_log(caplog, target)
    assert [json.loads(line)["id"] for line in target.open()] == list(range(25))


def test_a_fresh_pull_is_not_reported_as_resumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pull that starts from nothing says so: no ", resumed", and it took some time."""
    api, seen = Pages(), []
    api.failing = False
    target = tmp_path / "items?v=1.jsonl"  # a local path is shown whole
    with (
        caplog.at_level(logging.INFO, logger="vendorgate.http"),
        VendorClient(
            **_options(api, seen),
        ) as client,
    ):
        result = client.pull("/items", PageNumber(page_size=10), output=target)
    assert not result.resumed
    assert result.elapsed_s > 0
    finished = [e for e in seen if isinstance(e, events.PullFinished)]
    assert [(e.resumed, e.elapsed_s) for e in finished] == [(False, result.elapsed_s)]
    lines = [r.getMessage() for r in caplog.records if "pulled" in r.getMessage()]
    expected = (
        rf"acme: pulled 25 records in 3 pages to {re.escape(str(target))} in \d+\.\d s "
        r"\(2 retries, 1 rate-limited, 0 token requests\)"
    )
    assert len(lines) == 1
    assert re.fullmatch(expected, lines[0]), lines[0]


def test_an_output_url_is_reported_without_its_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Events and the log show an output URL without user info or query."""
    fsspec = pytest.importorskip("fsspec")
    from vendorgate.http import Output

    name = f"bucket-{uuid.uuid4().hex}"  # the memory filesystem is process-wide
    url = f"memory://me:s3cr3t-pw@{name}/items.jsonl"
    api, seen = Pages(), []
    api.failing = False
    try:
        with (
            caplog.at_level(logging.INFO, logger="vendorgate.http"),
            VendorClient(
                **_options(api, seen),
            ) as client,
        ):
            client.pull(
                "/items", PageNumber(page_size=10), output=Output(path=url, staging_dir=tmp_path)
            )
        shown = {e.output for e in seen if isinstance(e, (events.PageWritten, events.PullFinished))}
        assert shown == {f"memory://{name}/items.jsonl"}
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert f"to memory://{name}/items.jsonl in" in text
        assert "s3cr3t-pw" not in text
    finally:
        memory = fsspec.filesystem("memory")
        for path in memory.find("/"):
            if name in path:
                memory.rm(path)


def test_an_incremental_pull_keeps_the_callers_params(tmp_path: Path) -> None:
    """The mark is added to the caller's own query parameters, not instead of them."""
    from vendorgate.http import FileStateStore, Incremental

    asked: list[dict[str, str]] = []

    def api(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        return httpx.Response(200, json={"items": [{"id": 7}], "pages": 1})

    inc = Incremental(
        store=FileStateStore(tmp_path / "state.json"), key="k", field="id", param="since_id"
    )
    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        for n in (1, 2):
            client.pull(
                "/items",
                PageNumber(page_size=10),
                output=tmp_path / f"run{n}.jsonl",
                params={"status": "open"},
                incremental=inc,
            )
    assert asked == [
        {"status": "open", "page": "1", "per_page": "10"},
        {"status": "open", "since_id": "7", "page": "1", "per_page": "10"},
    ]
