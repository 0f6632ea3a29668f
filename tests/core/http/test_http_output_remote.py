"""fsspec outputs: the claim object that keeps other hosts out, the staged upload and move,
and a crash after the move, against a real filesystem.

The URLs are ``local://`` ones: fsspec's local filesystem behind a URL, so the writer takes
its remote path (claim object, staging directory, upload under a temporary name, move)
while every test keeps its files in its own ``tmp_path`` (the ``memory://`` filesystem is
process-wide). The claim's clock is ``time.time``, replaced by a settable one where the
expiry and the renewal are asserted.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from http_helpers import commit_killed_before_checkpoint_removal, killed_at_removal_of

from vendorgate import ConfigurationError, OutputBusyError
from vendorgate.http import Checkpoint, Output, OutputWriter, PageRequest

pytest.importorskip("fsspec")

FIRST = PageRequest("/items", {"page": 1})
NEXT = PageRequest("/items", {"page": 2})


class Clock:
    """A settable ``time.time``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(1_000_000.0)
    monkeypatch.setattr(time, "time", clock)
    return clock


def _url(tmp_path: Path) -> str:
    (tmp_path / "bucket").mkdir(exist_ok=True)
    return f"local://{tmp_path}/bucket/out.jsonl"


def _claim_file(tmp_path: Path) -> Path:
    return tmp_path / "bucket" / "out.jsonl.vendorgate-claim"


def _host(tmp_path: Path, name: str, **kw: Any) -> OutputWriter:
    """A writer with its own staging directory: another host."""
    return OutputWriter(Output(path=_url(tmp_path), staging_dir=tmp_path / name, **kw), FIRST)


def _claim(tmp_path: Path) -> dict[str, Any]:
    data = json.loads(_claim_file(tmp_path).read_text())
    assert isinstance(data, dict)
    return data


def _bucket(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "bucket").iterdir())


def test_remote_output_appears_whole_on_commit_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    """Until commit only the claim is in the bucket; commit moves the file into place and
    removes the claim, the staged partial file and the checkpoint."""
    writer = _host(tmp_path, "a")
    assert writer.open() == FIRST
    writer.write_page([{"id": 1}, {"id": 2}], NEXT)
    writer.write_page([{"id": 3}], None)
    assert _bucket(tmp_path) == ["out.jsonl.vendorgate-claim"]
    assert writer.commit() == _url(tmp_path)
    assert _bucket(tmp_path) == ["out.jsonl"]
    lines = (tmp_path / "bucket" / "out.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"id": 1}, {"id": 2}, {"id": 3}]
    staged = [p.name for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert staged == []


def test_a_claim_names_its_writer_and_expires_after_its_ttl(tmp_path: Path, clock: Clock) -> None:
    """The claim object says who holds the output (run, pid, host) and until when."""
    writer = _host(tmp_path, "a", run_id="run-7", claim_ttl_s=300)
    writer.open()
    claim = _claim(tmp_path)
    assert claim["run"] == "run-7"
    assert claim["pid"] == os.getpid()
    assert claim["host"] == socket.gethostname()
    assert claim["expires"] == clock.now + 300
    assert claim["owner"]
    writer.close()
    assert _bucket(tmp_path) == []


def test_a_second_host_is_refused_while_the_claim_lives(tmp_path: Path, clock: Clock) -> None:
    """Another host's writer is refused before it touches anything; the error names the
    holder; once the first commits, the second proceeds."""
    first = _host(tmp_path, "a", run_id="run-1", claim_ttl_s=300)
    first.open()
    second = _host(tmp_path, "b", run_id="run-2")
    clock.now += 299
    with pytest.raises(OutputBusyError) as info:
        second.open()
    since = _claim(tmp_path)["since"]
    assert str(info.value) == (
        f"output {_url(tmp_path)} is being written by another pull "
        f"(pid {os.getpid()} on {socket.gethostname()}, run run-1, since {since}); two pulls "
        "to one output would corrupt it. Wait for that pull to finish (or stop it), or give "
        "this pull another output path"
    )
    assert info.value.path == _url(tmp_path)
    assert info.value.lock_path == str(_claim_file(tmp_path))
    assert _claim(tmp_path)["run"] == "run-1"
    assert list((tmp_path / "b").rglob("*.partial")) == []
    first.write_page([{"id": 1}], None)
    first.commit()
    assert second.open() == FIRST
    assert _claim(tmp_path)["run"] == "run-2"
    second.close()


def test_an_expired_claim_of_a_crashed_host_is_taken_over(tmp_path: Path, clock: Clock) -> None:
    """A claim whose expiry has passed (its host crashed) no longer keeps others out."""
    crashed = {"run": "old", "pid": 1, "host": "gone", "owner": "x", "expires": clock.now}
    (tmp_path / "bucket").mkdir()
    _claim_file(tmp_path).write_text(json.dumps(crashed))
    writer = _host(tmp_path, "a", run_id="new", claim_ttl_s=60)
    assert writer.open() == FIRST
    assert _claim(tmp_path)["run"] == "new"
    assert _claim(tmp_path)["expires"] == clock.now + 60
    writer.close()


def test_a_claim_expiring_later_keeps_others_out(tmp_path: Path, clock: Clock) -> None:
    """A claim of another writer that has not expired yet refuses the open."""
    (tmp_path / "bucket").mkdir()
    live = {"run": "old", "pid": 42, "host": "elsewhere", "owner": "x", "expires": clock.now + 1}
    _claim_file(tmp_path).write_text(json.dumps(live))
    with pytest.raises(OutputBusyError, match=r"\(pid 42 on elsewhere, run old\)"):
        _host(tmp_path, "a").open()
    assert _claim(tmp_path) == live


def test_the_claim_is_renewed_every_third_of_its_ttl(tmp_path: Path, clock: Clock) -> None:
    """Writing a page renews the claim once a third of its TTL has passed since the last
    renewal, not before."""
    writer = _host(tmp_path, "a", claim_ttl_s=300)
    writer.open()
    start = clock.now
    clock.now = start + 99.5
    writer.write_page([{"id": 1}], NEXT)
    assert _claim(tmp_path)["expires"] == start + 300
    clock.now = start + 100
    writer.write_page([{"id": 2}], NEXT)
    assert _claim(tmp_path)["expires"] == start + 400
    clock.now = start + 150
    writer.write_page([{"id": 3}], None)
    assert _claim(tmp_path)["expires"] == start + 400
    writer.commit()


def test_a_claim_taken_over_mid_pull_stops_the_pull_at_its_next_renewal(
    tmp_path: Path, clock: Clock
) -> None:
    """If another host took the output over (this claim expired meanwhile), the next
    renewal refuses to go on, and nothing is published."""
    writer = _host(tmp_path, "a", claim_ttl_s=30)
    writer.open()
    other = {"run": "r2", "pid": 9, "host": "h2", "owner": "y", "expires": clock.now + 9999}
    _claim_file(tmp_path).write_text(json.dumps(other))
    clock.now += 10
    with pytest.raises(OutputBusyError, match=r"\(pid 9 on h2, run r2\)"):
        writer.write_page([{"id": 1}], None)
    writer.close()
    assert _bucket(tmp_path) == ["out.jsonl.vendorgate-claim"]
    assert _claim(tmp_path) == other


@pytest.mark.parametrize("taken", [True, False], ids=["taken-over", "removed"])
def test_commit_checks_the_claim_before_the_move(tmp_path: Path, taken: bool) -> None:
    """A claim that changed hands or disappeared since the last page is found at commit:
    the file is not moved into place, and another host's claim is left alone."""
    writer = _host(tmp_path, "a")
    writer.open()
    writer.write_page([{"id": 1}], None)
    other = {"run": "r2", "pid": 9, "host": "h2", "owner": "y", "expires": 0}
    if taken:
        _claim_file(tmp_path).write_text(json.dumps(other))
    else:
        _claim_file(tmp_path).unlink()
    words = r"\(pid 9 on h2, run r2\)" if taken else r"\(its claim disappeared\)"
    with pytest.raises(OutputBusyError, match=words) as info:
        writer.commit()
    assert info.value.lock_path == str(_claim_file(tmp_path))
    assert not (tmp_path / "bucket" / "out.jsonl").exists()
    if taken:
        assert _claim(tmp_path) == other


def test_open_removes_upload_and_checkpoint_temp_files_of_a_crashed_run(tmp_path: Path) -> None:
    """Upload temp objects and checkpoint temp files a crashed run left are removed by
    the next writer, once it holds the claim; other objects stay."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    for name in ("out.jsonl.tmp-0123456789abcdef", "out.jsonl.tmp-x", "other.jsonl.tmp-1"):
        (bucket / name).write_text("stale")
    writer = _host(tmp_path, "a")
    checkpoint = writer.output.checkpoint_file
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    (checkpoint.parent / f".{checkpoint.name}.4242.tmp").write_text("{")
    writer.open()
    assert _bucket(tmp_path) == ["other.jsonl.tmp-1", "out.jsonl.vendorgate-claim"]
    assert [p.name for p in checkpoint.parent.glob("*.tmp")] == []
    writer.close()


def _crash_after_the_move(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: str) -> None:
    """A pull of run ``run`` killed between the move into place and the checkpoint removal."""
    writer = _host(tmp_path, "a", run_id=run)
    checkpoint = commit_killed_before_checkpoint_removal(writer, monkeypatch)
    cp = Checkpoint.load(checkpoint)
    assert cp is not None
    assert cp.position is None
    assert (tmp_path / "bucket" / "out.jsonl").exists()


def test_retry_of_a_run_crashed_after_the_move_only_removes_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same run's retry finds its file in place at the checkpoint's size: nothing to
    fetch, the checkpoint goes."""
    _crash_after_the_move(tmp_path, monkeypatch, "run-1")
    retry = _host(tmp_path, "a", run_id="run-1")
    assert retry.open() is None
    assert retry.resumed
    assert (retry.records, retry.pages) == (2, 1)
    assert retry.commit() == _url(tmp_path)
    assert not retry.output.checkpoint_file.exists()
    assert _bucket(tmp_path) == ["out.jsonl"]
    assert (tmp_path / "bucket" / "out.jsonl").read_text() == '{"id":1}\n{"id":2}\n'


@pytest.mark.parametrize("change", ["other-run", "file-changed", "file-gone"])
def test_a_crashed_runs_file_is_fetched_again_unless_it_is_that_runs_and_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Another run, or the same run finding the file of another size or gone, starts over."""
    _crash_after_the_move(tmp_path, monkeypatch, "run-1")
    final = tmp_path / "bucket" / "out.jsonl"
    if change == "file-changed":
        final.write_text('{"id":1}\n')
    elif change == "file-gone":
        final.unlink()
    retry = _host(tmp_path, "a", run_id="run-2" if change == "other-run" else "run-1")
    assert retry.open() == FIRST
    assert not retry.resumed
    retry.close()


def test_a_claim_removed_mid_pull_stops_the_pull_at_its_next_renewal(
    tmp_path: Path, clock: Clock
) -> None:
    """A claim that disappeared (another host may have finished meanwhile) is not
    written again: the pull stops."""
    writer = _host(tmp_path, "a", claim_ttl_s=30)
    writer.open()
    _claim_file(tmp_path).unlink()
    clock.now += 10
    with pytest.raises(OutputBusyError, match=r"\(its claim disappeared\)"):
        writer.write_page([{"id": 1}], None)
    writer.close()
    assert _bucket(tmp_path) == []


def test_a_claim_that_names_nobody_is_reported_as_a_claim(tmp_path: Path) -> None:
    writer = _host(tmp_path, "a")
    writer.open()
    writer.write_page([{"id": 1}], None)
    _claim_file(tmp_path).write_text("{}")
    with pytest.raises(OutputBusyError, match=r"another pull \(a claim\); two pulls"):
        writer.commit()


def test_storage_options_reach_every_remote_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim, the upload and the check after a crash all open the filesystem with the
    output's storage options (here the root of a ``dir://`` filesystem)."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    options = {"path": str(bucket), "target_protocol": "file"}

    def output() -> Output:
        return Output(
            path="dir://out.jsonl",
            staging_dir=tmp_path / "a",
            storage_options=options,
            run_id="run-1",
        )

    writer = OutputWriter(output(), FIRST)
    writer.open()
    assert _bucket(tmp_path) == ["out.jsonl.vendorgate-claim"]
    writer.write_page([{"id": 1}], None)
    checkpoint = writer.output.checkpoint_file
    with killed_at_removal_of(checkpoint, monkeypatch):
        writer.commit()
    assert _bucket(tmp_path) == ["out.jsonl"]
    retry = OutputWriter(output(), FIRST)
    assert retry.open() is None
    assert retry.commit() == "dir://out.jsonl"
    assert (bucket / "out.jsonl").read_text() == '{"id":1}\n'
    assert not checkpoint.exists()


def test_a_claim_object_that_is_not_a_table_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / "bucket").mkdir()
    _claim_file(tmp_path).write_text("[1, 2]")
    writer = _host(tmp_path, "a", run_id="run-1")
    assert writer.open() == FIRST
    assert _claim(tmp_path)["run"] == "run-1"
    writer.close()


def test_a_claim_that_vanishes_right_after_it_is_written_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim is read back after it is written: gone by then (another host's cleanup
    raced it), the open is refused rather than writing unclaimed."""
    from vendorgate.http._output import _RemoteClaim

    real_write = _RemoteClaim._write

    def write_then_lose(self: _RemoteClaim) -> None:
        real_write(self)
        _claim_file(tmp_path).unlink()

    monkeypatch.setattr(_RemoteClaim, "_write", write_then_lose)
    with pytest.raises(OutputBusyError, match=r"\(its claim disappeared\)") as info:
        _host(tmp_path, "a").open()
    assert info.value.lock_path == str(_claim_file(tmp_path))


def test_a_claim_that_cannot_be_removed_does_not_fail_a_finished_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is in place; the claim is left to expire."""
    from fsspec.implementations.local import LocalFileSystem

    real_rm = LocalFileSystem.rm_file

    def refuse_claim(self: LocalFileSystem, path: str) -> None:
        if str(path).endswith(".vendorgate-claim"):
            raise PermissionError(path)
        real_rm(self, path)

    writer = _host(tmp_path, "a")
    writer.open()
    writer.write_page([{"id": 1}], None)
    monkeypatch.setattr(LocalFileSystem, "rm_file", refuse_claim)
    assert writer.commit() == _url(tmp_path)
    assert _bucket(tmp_path) == ["out.jsonl", "out.jsonl.vendorgate-claim"]


def test_an_fsspec_url_without_the_extra_names_it_before_touching_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without fsspec installed, an fsspec URL is refused at open with the install hint."""
    import sys

    monkeypatch.setitem(sys.modules, "fsspec.core", None)  # import fails as if absent
    writer = _host(tmp_path, "a")
    with pytest.raises(ConfigurationError) as info:
        writer.open()
    assert str(info.value) == (
        "output: an fsspec URL needs the fsspec extra: pip install 'vendorgate[fsspec]'"
    )
    assert not writer.output.lock_file.exists()


@pytest.mark.parametrize(
    ("records", "serializer"),
    [([{"id": 1}], None), ([{"id": 1}], lambda record: b"")],
    ids=["lines", "one-byte"],
)
def test_a_partial_file_removed_under_the_pull_is_not_published(
    tmp_path: Path, records: list[Any], serializer: Any
) -> None:
    """Commit checks the partial file is the one this pull wrote (here: gone, even for an
    output of one byte) and refuses to publish otherwise."""
    settings = {"serializer": serializer} if serializer else {}
    out = Output(path=tmp_path / "out.jsonl", **settings)
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page(records, None)
    out.partial_path.unlink()
    with pytest.raises(OutputBusyError) as info:
        writer.commit()
    assert "(the partial file changed under this pull)" in str(info.value)
    assert info.value.lock_path == str(out.lock_file)
    assert info.value.path == str(out.path)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_stale_upload_that_cannot_be_removed_does_not_stop_the_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fsspec.implementations.local import LocalFileSystem

    (tmp_path / "bucket").mkdir()
    (tmp_path / "bucket" / "out.jsonl.tmp-0123456789abcdef").write_text("stale")
    real_rm = LocalFileSystem.rm_file

    def refuse_tmp(self: LocalFileSystem, path: str) -> None:
        if ".tmp-" in str(path):
            raise PermissionError(path)
        real_rm(self, path)

    monkeypatch.setattr(LocalFileSystem, "rm_file", refuse_tmp)
    writer = _host(tmp_path, "a")
    assert writer.open() == FIRST
    writer.write_page([{"id": 1}], None)
    monkeypatch.undo()
    writer.commit()
    assert _bucket(tmp_path) == ["out.jsonl", "out.jsonl.tmp-0123456789abcdef"]


def test_closing_a_committed_remote_writer_again_is_harmless(tmp_path: Path) -> None:
    writer = _host(tmp_path, "a")
    writer.open()
    writer.write_page([{"id": 1}], None)
    writer.commit()
    writer.close()
    assert _bucket(tmp_path) == ["out.jsonl"]
