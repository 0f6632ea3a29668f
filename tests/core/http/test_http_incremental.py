"""Incremental pulls: only new records each run, exactly once across a crash."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from http_helpers import killed_at_removal_of, provider_for

from vendorgate import ConfigurationError
from vendorgate.http import (
    AsyncVendorClient,
    FileStateStore,
    Incremental,
    Output,
    PageNumber,
    VendorClient,
)
from vendorgate.testing.sandbox import VendorSandbox


def _ids(path: Path) -> list[int]:
    with path.open() as fh:
        return [json.loads(line)["id"] for line in fh]


def _incremental(tmp_path: Path) -> Incremental:
    return Incremental(
        store=FileStateStore(tmp_path / "state.json"), key="items", field="id", param="since_id"
    )


@pytest.fixture
def growing() -> Any:
    with VendorSandbox(dataset_size=30) as sb:
        yield sb


def _pull(sb: VendorSandbox, inc: Incremental, out: Path | Output) -> int:
    with VendorClient(provider_for(sb), base_url=sb.api_url("lonewolf")) as client:
        return client.pull("/items", PageNumber(page_size=10), output=out, incremental=inc).records


def test_three_runs_fetch_only_the_new_records(growing: VendorSandbox, tmp_path: Path) -> None:
    """Each run against a growing data set fetches only the records added since the last."""
    inc = _incremental(tmp_path)
    assert _pull(growing, inc, tmp_path / "run1.jsonl") == 30
    growing.grow(25)
    assert _pull(growing, inc, tmp_path / "run2.jsonl") == 25
    growing.grow(7)
    assert _pull(growing, inc, tmp_path / "run3.jsonl") == 7
    assert _ids(tmp_path / "run2.jsonl") == list(range(30, 55))
    assert _ids(tmp_path / "run3.jsonl") == list(range(55, 62))
    assert inc.mark() == 61


def test_run_with_nothing_new_stores_the_same_mark(growing: VendorSandbox, tmp_path: Path) -> None:
    """A run that finds no new record writes an empty output and keeps the mark."""
    inc = _incremental(tmp_path)
    _pull(growing, inc, tmp_path / "run1.jsonl")
    assert _pull(growing, inc, tmp_path / "run2.jsonl") == 0
    assert inc.mark() == 29


@pytest.mark.anyio
async def test_async_runs_fetch_only_the_new_records(tmp_path: Path) -> None:
    """The async client's pull resumes from the stored mark too."""
    inc = _incremental(tmp_path)
    with VendorSandbox(dataset_size=40) as sb:
        async with AsyncVendorClient(provider_for(sb), base_url=sb.api_url("lonewolf")) as c:
            first = await c.pull(
                "/items", PageNumber(page_size=10), output=tmp_path / "a.jsonl", incremental=inc
            )
            await asyncio.to_thread(sb.grow, 15)
            second = await c.pull(
                "/items", PageNumber(page_size=10), output=tmp_path / "b.jsonl", incremental=inc
            )
    assert (first.records, second.records) == (40, 15)
    assert _ids(tmp_path / "b.jsonl") == list(range(40, 55))


_KILLED_RUN = textwrap.dedent(
    """
    import os, sys
    from vendorgate.cache import TokenCache
    from vendorgate.http import FileStateStore, Incremental, PageNumber, VendorClient
    from vendorgate.tokens import TokenConfig, TokenProvider

    api_url, token_url, secret, state, out = sys.argv[1:]

    class DiesAfterCommit(FileStateStore):
        def set(self, key, value):
            if '"pending"' not in value:  # the write after the commit: killed first
                os._exit(9)
            super().set(key, value)

    config = TokenConfig.from_mapping({"preset": "lonewolf", "client_id": "demo-client",
        "client_secret": "literal:" + secret, "token_url": token_url})
    inc = Incremental(store=DiesAfterCommit(state), key="items", field="id", param="since_id")
    with VendorClient(TokenProvider(config, cache=TokenCache()), base_url=api_url) as client:
        client.pull("/items", PageNumber(page_size=10), output=out, incremental=inc)
    """
)


def _killed_run(sb: VendorSandbox, tmp_path: Path, out: Path) -> None:
    secret = sb.demo_credentials("lonewolf")["client_secret"].reveal()
    args = [sb.api_url("lonewolf"), sb.token_url("lonewolf"), secret]
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, *args, str(tmp_path / "state.json"), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 9, proc.stderr
    assert out.exists()  # committed, the mark not moved on


@pytest.mark.slow
def test_killed_after_commit_then_next_run_has_no_duplicate(
    growing: VendorSandbox, tmp_path: Path
) -> None:
    """A run killed between its commit and the state write: the next run skips its records."""
    inc = _incremental(tmp_path)
    _pull(growing, inc, tmp_path / "run1.jsonl")
    growing.grow(20)
    _killed_run(growing, tmp_path, tmp_path / "run2.jsonl")
    growing.grow(5)
    _pull(growing, inc, tmp_path / "run3.jsonl")
    ids = [i for n in (1, 2, 3) for i in _ids(tmp_path / f"run{n}.jsonl")]
    assert sorted(ids) == list(range(55))


@pytest.mark.slow
def test_killed_after_commit_then_rerun_of_that_run_has_no_duplicate(
    growing: VendorSandbox, tmp_path: Path
) -> None:
    """Rerunning the killed run itself replaces its output: every record exactly once."""
    inc = _incremental(tmp_path)
    _pull(growing, inc, tmp_path / "run1.jsonl")
    growing.grow(20)
    _killed_run(growing, tmp_path, tmp_path / "run2.jsonl")
    growing.grow(5)
    _pull(growing, inc, tmp_path / "run2.jsonl")  # the orchestrator's retry
    ids = _ids(tmp_path / "run1.jsonl") + _ids(tmp_path / "run2.jsonl")
    assert sorted(ids) == list(range(55))
    assert inc.mark() == 54


def test_crash_before_commit_publishes_nothing_and_loses_nothing(
    growing: VendorSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that fails before its commit leaves the mark; the next run fetches its records."""
    from vendorgate.http._output import OutputWriter

    inc = _incremental(tmp_path)
    _pull(growing, inc, tmp_path / "run1.jsonl")
    growing.grow(10)

    def fail(self: OutputWriter) -> str:
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(OutputWriter, "commit", fail)
        with pytest.raises(OSError, match="disk full"):
            _pull(growing, inc, tmp_path / "run2.jsonl")
    assert inc.mark() == 29
    assert _pull(growing, inc, tmp_path / "run3.jsonl") == 10


class _KilledAfterCommit(BaseException):
    """The process died between the commit and the state write."""


class _DiesAfterCommit(FileStateStore):
    """A state store whose process dies right before the write that follows the commit."""

    def set(self, key: str, value: str) -> None:
        if '"pending"' not in value:
            raise _KilledAfterCommit
        super().set(key, value)


def _on_host(url: str, tmp_path: Path, host: str, **kw: Any) -> Output:
    """An fsspec output pulled on ``host``: its partial file stays in that host's staging
    directory."""
    return Output(path=url, staging_dir=tmp_path / host, **kw)


@pytest.mark.parametrize("reused", [False, True], ids=["new-output", "output-with-older-file"])
def test_remote_run_whose_upload_failed_is_fetched_again_on_another_host(
    growing: VendorSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reused: bool
) -> None:
    """Host A stores its intent, then its upload fails; the next run lands on host B, which
    cannot see A's staging directory. B fetches those records again: none is lost (also
    when A's output URL already held an older file)."""
    pytest.importorskip("fsspec")
    from fsspec.implementations.local import LocalFileSystem

    bucket = tmp_path / "bucket"
    bucket.mkdir()
    inc = _incremental(tmp_path)
    assert _pull(growing, inc, _on_host(f"local://{bucket}/run1.jsonl", tmp_path, "a")) == 30
    growing.grow(10)
    if reused:
        (bucket / "run2.jsonl").write_text('{"id": -1}\n')  # a week-old file of that name

    def upload_fails(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection reset during the upload")

    with monkeypatch.context() as m:
        m.setattr(LocalFileSystem, "put_file", upload_fails)
        with pytest.raises(OSError, match="connection reset"):
            _pull(growing, inc, _on_host(f"local://{bucket}/run2.jsonl", tmp_path, "a"))
    shutil.rmtree(tmp_path / "a")  # host B does not see host A's disk
    assert inc.mark() == 29
    assert _pull(growing, inc, _on_host(f"local://{bucket}/run3.jsonl", tmp_path, "b")) == 10
    assert _ids(bucket / "run3.jsonl") == list(range(30, 40))
    assert inc.mark() == 39


def test_remote_run_killed_after_its_upload_is_not_fetched_again_on_another_host(
    growing: VendorSandbox, tmp_path: Path
) -> None:
    """Host A publishes its output and dies before storing the mark; host B sees the
    published file (through the output's storage options) and moves on: no duplicate."""
    pytest.importorskip("fsspec")
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    options = {"path": str(bucket), "target_protocol": "file"}
    inc = _incremental(tmp_path)
    dying = Incremental(
        store=_DiesAfterCommit(tmp_path / "state.json"), key="items", field="id", param="since_id"
    )
    _pull(growing, inc, _on_host("dir://run1.jsonl", tmp_path, "a", storage_options=options))
    growing.grow(20)
    with pytest.raises(_KilledAfterCommit):
        _pull(growing, dying, _on_host("dir://run2.jsonl", tmp_path, "a", storage_options=options))
    assert (bucket / "run2.jsonl").exists()
    shutil.rmtree(tmp_path / "a")
    growing.grow(5)
    run3 = _on_host("dir://run3.jsonl", tmp_path, "b", storage_options=options)
    assert _pull(growing, inc, run3) == 5
    ids = [i for n in (1, 2, 3) for i in _ids(bucket / f"run{n}.jsonl")]
    assert sorted(ids) == list(range(55))


def test_remote_retry_that_finishes_a_commit_then_dies_is_not_fetched_again(
    growing: VendorSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed between its move and the checkpoint removal is retried (same run id):
    the retry fetches nothing, its file being in place. When the retry too dies before
    storing the mark, the next run, on another host, still sees that file published."""
    pytest.importorskip("fsspec")
    bucket = tmp_path / "bucket"
    bucket.mkdir()

    def out(name: str, host: str) -> Output:
        return _on_host(f"local://{bucket}/{name}", tmp_path, host, run_id=f"run-{name}")

    inc = _incremental(tmp_path)
    dying = Incremental(
        store=_DiesAfterCommit(tmp_path / "state.json"), key="items", field="id", param="since_id"
    )
    _pull(growing, inc, out("run1.jsonl", "a"))
    growing.grow(20)
    checkpoint = out("run2.jsonl", "a").checkpoint_file
    with killed_at_removal_of(checkpoint, monkeypatch):
        _pull(growing, inc, out("run2.jsonl", "a"))
    assert checkpoint.exists()
    growing.grow(5)
    with pytest.raises(_KilledAfterCommit):
        _pull(growing, dying, out("run2.jsonl", "a"))  # the retry
    assert not checkpoint.exists()
    assert _ids(bucket / "run2.jsonl") == list(range(30, 50))
    shutil.rmtree(tmp_path / "a")
    assert _pull(growing, inc, out("run3.jsonl", "b")) == 5
    assert _ids(bucket / "run3.jsonl") == list(range(50, 55))


@pytest.mark.parametrize("published", [True, False])
def test_an_intent_of_an_earlier_version_counts_as_published_if_its_output_exists(
    tmp_path: Path, published: bool
) -> None:
    """An intent without the file's size and digest (written by an earlier vendorgate) is
    resolved by whether its output exists."""
    out = tmp_path / "run2.jsonl"
    if published:
        out.write_text('{"id": 1}\n')
    inc = _incremental(tmp_path)
    pending = {"output": str(out), "partial": f"{out}.partial", "mark": 54}
    inc.store.set("items", json.dumps({"mark": 29, "pending": pending}))
    assert inc.mark() == (54 if published else 29)
    assert inc.begin(tmp_path / "run3.jsonl").start_mark == (54 if published else 29)


def test_missing_mark_field_names_it(growing: VendorSandbox, tmp_path: Path) -> None:
    """A mark field the records do not have is an error naming the field."""
    from vendorgate import BadResponseError

    inc = Incremental(
        store=FileStateStore(tmp_path / "s.json"), key="k", field="updated_at", param="since"
    )
    with pytest.raises(BadResponseError, match="updated_at"):
        _pull(growing, inc, tmp_path / "out.jsonl")


def test_store_must_have_get_and_set(tmp_path: Path) -> None:
    """Something that is not a state store is refused, naming the field."""
    with pytest.raises(ConfigurationError, match="store"):
        Incremental(store=object(), key="k", field="id", param="since_id")  # type: ignore[arg-type]


def test_file_store_keeps_values_across_instances(tmp_path: Path) -> None:
    """A FileStateStore's values survive the process: a new instance reads them."""
    FileStateStore(tmp_path / "s" / "state.json").set("a", "1")
    assert FileStateStore(tmp_path / "s" / "state.json").get("a") == "1"
    assert FileStateStore(tmp_path / "s" / "state.json").get("b") is None


def test_adapter_option_fills_in_the_adapters_store_and_key(tmp_path: Path) -> None:
    """An operator's or task's ``incremental={...}`` gets the adapter's store and key."""
    store = FileStateStore(tmp_path / "s.json")
    inc = Incremental.from_option({"field": "id", "param": "since_id"}, store=store, key="dag.t")
    assert inc is not None
    assert (inc.store, inc.key, inc.field, inc.param, inc.initial) == (
        store,
        "dag.t",
        "id",
        "since_id",
        None,
    )
    own = FileStateStore(tmp_path / "own.json")
    mine = Incremental.from_option(
        {"field": "id", "param": "p", "key": "mine", "store": own, "initial": 5},
        store=store,
        key="dag.t",
    )
    assert mine is not None
    assert (mine.store, mine.key, mine.initial) == (own, "mine", 5)
    assert Incremental.from_option(None, store=store, key="k") is None
    assert Incremental.from_option(inc) is inc


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"field": "id"}, "needs param"),
        ({"field": "id", "param": "p", "feild": "x"}, "unknown key.*feild"),
        ("id", "must be a mapping"),
        ({"field": "id", "param": ""}, "non-empty"),
    ],
)
def test_adapter_option_mistakes_name_the_option(option: Any, match: str, tmp_path: Path) -> None:
    """A typo or a missing key is refused with what to write instead."""
    with pytest.raises(ConfigurationError, match=match):
        Incremental.from_option(option, store=FileStateStore(tmp_path / "s.json"), key="k")
