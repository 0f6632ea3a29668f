"""Streaming output: JSON Lines, gzip, atomic final file, checkpoints, resume, fsspec."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import ConfigurationError, ServerError
from vendorgate.http import (
    AsyncVendorClient,
    Checkpoint,
    Output,
    OutputWriter,
    PageNumber,
    PageRequest,
    RetryPolicy,
    VendorClient,
)

FIRST = PageRequest("/items", {"page": 1})


def _lines(path: Path) -> list[Any]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:  # type: ignore[operator]
        return [json.loads(line) for line in fh]


def test_records_appear_in_the_final_file_only_on_commit(tmp_path: Path) -> None:
    """Until commit the final name does not exist; after it, every record is there."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    assert writer.open() == FIRST
    writer.write_page([{"id": 1}, {"id": 2}], PageRequest("/items", {"page": 2}))
    assert not (tmp_path / "out.jsonl").exists()
    writer.write_page([{"id": 3}], None)
    writer.commit()
    assert _lines(tmp_path / "out.jsonl") == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_checkpoint_matches_the_partial_file(tmp_path: Path) -> None:
    """After each page the checkpoint's byte size and count match the data on disk."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    writer.open()
    nxt = PageRequest("/items", {"page": 2})
    writer.write_page([{"id": 1}, {"id": 2}], nxt)
    cp = Checkpoint.load(out.checkpoint_file)
    assert cp is not None
    assert (cp.position, cp.records, cp.pages) == (nxt, 2, 1)
    assert cp.bytes == out.partial_path.stat().st_size
    writer.close()


def test_resume_drops_data_written_after_the_last_checkpoint(tmp_path: Path) -> None:
    """A crash between writing a page and checkpointing it leaves no duplicate on rerun."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    writer.open()
    page2 = PageRequest("/items", {"page": 2})
    writer.write_page([{"id": 1}], page2)
    writer.close()
    with open(out.partial_path, "ab") as fh:  # page 2 written, checkpoint not yet
        fh.write(b'{"id":2}\n{"id":')
    again = OutputWriter(out, FIRST)
    assert again.open() == page2
    assert again.resumed
    assert again.records == 1
    again.write_page([{"id": 2}], None)
    again.commit()
    assert _lines(tmp_path / "out.jsonl") == [{"id": 1}, {"id": 2}]


def test_gzip_output_resumes_at_a_member_boundary(tmp_path: Path) -> None:
    """Gzip output (one member per page) survives a resume and reads as one stream."""
    out = Output(path=tmp_path / "out.jsonl.gz")
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}, {"id": 2}], PageRequest("/items", {"page": 2}))
    writer.close()
    with open(out.partial_path, "ab") as fh:
        fh.write(gzip.compress(b'{"id":3}\n')[:7])  # half a member: crash mid-page
    again = OutputWriter(out, FIRST)
    again.open()
    again.write_page([{"id": 3}], None)
    again.commit()
    assert _lines(tmp_path / "out.jsonl.gz") == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_checkpoint_of_another_pull_is_refused(tmp_path: Path) -> None:
    """A checkpoint left by a pull with other parameters is not silently reused."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}], PageRequest("/items", {"page": 2}))
    writer.close()
    with pytest.raises(ConfigurationError) as info:
        OutputWriter(out, PageRequest("/other", {"page": 1})).open()
    assert info.value.field == "output"


def test_fsspec_url_is_committed_by_move(tmp_path: Path) -> None:
    """An fsspec URL gets the finished file under its final name, staged locally."""
    fsspec = pytest.importorskip("fsspec")
    url = "memory://bucket/out.jsonl"
    out = Output(path=url, staging_dir=tmp_path)
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}], None)
    assert not fsspec.filesystem("memory").exists("/bucket/out.jsonl")
    writer.commit()
    with fsspec.open(url, "rt") as fh:
        assert [json.loads(x) for x in fh] == [{"id": 1}]
    assert list(tmp_path.rglob("*.partial")) == []


class FlakyPages:
    """Pages of 10 records out of 95; page ``fail_at`` answers 500 while ``failing``."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.failing = True
        self.served: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == self.fail_at and self.failing:
            return httpx.Response(500, json={"error": "boom"})
        self.served.append(page)
        ids = range((page - 1) * 10, min(page * 10, 95))
        return httpx.Response(200, json={"items": [{"id": i} for i in ids], "pages": 10})


def test_pull_failing_half_way_resumes_without_gap_or_duplicate(tmp_path: Path) -> None:
    """A pull that fails on page 6 and is rerun ends with every record exactly once."""
    api = FlakyPages(fail_at=6)
    target = tmp_path / "items.jsonl"
    with VendorClient(
        FakeSource(),
        base_url="https://api.test",
        retry=RetryPolicy.none(),
        transport=httpx.MockTransport(api),
    ) as client:
        with pytest.raises(ServerError):
            client.pull("/items", PageNumber(page_size=10), output=target)
        assert not target.exists()
        api.failing = False
        result = client.pull("/items", PageNumber(page_size=10), output=target)
    assert [r["id"] for r in _lines(target)] == list(range(95))
    assert result.resumed
    assert result.records == 95
    assert result.pages == 10
    assert api.served == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert not Output(path=target).checkpoint_file.exists()


@pytest.mark.anyio
async def test_async_concurrent_pull_resumes_in_order(tmp_path: Path) -> None:
    """The async pull (concurrent pages) checkpoints in source order and resumes cleanly."""
    api = FlakyPages(fail_at=7)
    target = tmp_path / "items.jsonl.gz"
    async with AsyncVendorClient(
        FakeSource(),
        base_url="https://api.test",
        retry=RetryPolicy.none(),
        concurrency=3,
        transport=httpx.MockTransport(api),
    ) as client:
        with pytest.raises(ServerError):
            await client.pull("/items", PageNumber(page_size=10), output=target)
        api.failing = False
        result = await client.pull("/items", PageNumber(page_size=10), output=target)
    assert [r["id"] for r in _lines(target)] == list(range(95))
    assert result.resumed


def _interrupted_pull(tmp_path: Path, output: Output, base_url: str = "https://api.test") -> None:
    """Leave a checkpoint and a partial file behind: the pull fails on page 4."""
    api = FlakyPages(fail_at=4)
    with (
        VendorClient(
            FakeSource(),
            base_url=base_url,
            retry=RetryPolicy.none(),
            transport=httpx.MockTransport(api),
        ) as client,
        pytest.raises(ServerError),
    ):
        client.pull("/items", PageNumber(page_size=10), output=output)
    assert output.checkpoint_file.exists()


def test_checkpoint_of_another_base_url_is_refused(tmp_path: Path) -> None:
    """The same path on another vendor's base URL does not resume the first one's file."""
    target = tmp_path / "items.jsonl"
    _interrupted_pull(tmp_path, Output(path=target))
    with (
        VendorClient(
            FakeSource(),
            base_url="https://other.test",
            transport=httpx.MockTransport(FlakyPages(0)),
        ) as client,
        pytest.raises(ConfigurationError) as info,
    ):
        client.pull("/items", PageNumber(page_size=10), output=target)
    message = str(info.value)
    assert str(Output(path=target).checkpoint_file) in message
    assert "url" in message
    assert "delete it" in message
    assert not target.exists()


def test_plain_checkpoint_is_not_resumed_as_gzip(tmp_path: Path) -> None:
    """Switching a half-done plain pull to gzip is refused instead of mixing formats."""
    target = tmp_path / "items.jsonl"
    _interrupted_pull(tmp_path, Output(path=target))
    with (
        VendorClient(
            FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(FlakyPages(0))
        ) as client,
        pytest.raises(ConfigurationError) as info,
    ):
        client.pull("/items", PageNumber(page_size=10), output=Output(path=target, gzip=True))
    assert "gzip" in str(info.value)


def test_other_page_size_is_refused(tmp_path: Path) -> None:
    """Resuming with other strategy settings is refused, naming the strategy."""
    target = tmp_path / "items.jsonl"
    _interrupted_pull(tmp_path, Output(path=target))
    with (
        VendorClient(
            FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(FlakyPages(0))
        ) as client,
        pytest.raises(ConfigurationError) as info,
    ):
        client.pull("/items", PageNumber(page_size=10, start_page=2), output=target)
    assert "strategy" in str(info.value)


def test_crash_after_the_final_rename_does_not_pull_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that died between moving the file into place and removing the checkpoint
    is finished by its retry (same run_id) without fetching a page again."""
    target = Output(path=tmp_path / "items.jsonl", run_id="dag-run-1")
    checkpoint = target.checkpoint_file
    real_unlink = Path.unlink

    def crash(self: Path, missing_ok: bool = False) -> None:
        if self == checkpoint:
            raise KeyboardInterrupt("killed after the rename")
        real_unlink(self, missing_ok=missing_ok)

    api = FlakyPages(fail_at=0)
    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        monkeypatch.setattr(Path, "unlink", crash)
        with pytest.raises(KeyboardInterrupt):
            client.pull("/items", PageNumber(page_size=10), output=target)
        monkeypatch.setattr(Path, "unlink", real_unlink)
        assert Path(target.path).exists()
        assert checkpoint.exists()
        served = len(api.served)
        result = client.pull("/items", PageNumber(page_size=10), output=target)
    assert len(api.served) == served
    assert [r["id"] for r in _lines(Path(target.path))] == list(range(95))
    assert result.records == 95
    assert not checkpoint.exists()


@pytest.mark.anyio
async def test_async_pull_keeps_the_event_loop_responsive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow disk writes do not block the event loop: other tasks keep running meanwhile.

    Each page write waits until a task on the event loop has run; a write made on the
    loop's own thread would wait in vain (no clock is compared: a loaded runner only
    makes the test slower)."""
    import asyncio
    import threading

    real_write = OutputWriter.write_page
    loop_thread = threading.get_ident()
    loop_ran = threading.Event()  # set by a task on the event loop
    writes: list[tuple[bool, bool]] = []  # per page: (off the loop's thread, loop ran)

    def slow_write(self: OutputWriter, records: list[Any], nxt: PageRequest | None) -> None:
        loop_ran.clear()
        ran = loop_ran.wait(timeout=5)  # a slow network disk, while the loop goes on
        writes.append((threading.get_ident() != loop_thread, ran))
        real_write(self, records, nxt)

    monkeypatch.setattr(OutputWriter, "write_page", slow_write)
    done = asyncio.Event()

    async def heartbeat() -> None:
        while not done.is_set():
            loop_ran.set()
            await asyncio.sleep(0.001)

    beat = asyncio.create_task(heartbeat())
    async with AsyncVendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(FlakyPages(0))
    ) as client:
        result = await client.pull("/items", PageNumber(page_size=10), output=tmp_path / "o.jsonl")
    done.set()
    await beat
    assert result.records == 95
    assert writes == [(True, True)] * 10
