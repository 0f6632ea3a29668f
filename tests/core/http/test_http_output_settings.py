"""Output settings, checkpoint files and the local lock: where the files go, what is
refused, how a checkpoint is read back, which pulls count as the same one, and what a
refused pull is told about the one holding the output."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from http_helpers import commit_killed_before_checkpoint_removal

from vendorgate import ConfigurationError, OutputBusyError
from vendorgate.http import (
    Checkpoint,
    CursorInBody,
    Output,
    OutputWriter,
    PageNumber,
    PageRequest,
)
from vendorgate.http._output import as_output, source_identity

FIRST = PageRequest("/items", {"page": 1})


def test_local_output_files_sit_beside_the_final_file(tmp_path: Path) -> None:
    out = Output(path=tmp_path / "out.jsonl")
    assert not out.is_url
    assert out.partial_path == tmp_path / "out.jsonl.partial"
    assert out.lock_file == tmp_path / "out.jsonl.lock"
    assert out.checkpoint_file == tmp_path / "out.jsonl.checkpoint.json"
    elsewhere = Output(path=tmp_path / "out.jsonl", checkpoint_path=tmp_path / "cp.json")
    assert elsewhere.checkpoint_file == tmp_path / "cp.json"
    assert elsewhere.partial_path == tmp_path / "out.jsonl.partial"


def test_a_file_url_is_a_local_path(tmp_path: Path) -> None:
    """``file://`` names a local file: written in place, not staged."""
    out = Output(path=f"file://{tmp_path}/out.jsonl")
    assert not out.is_url
    assert out.partial_path == tmp_path / "out.jsonl.partial"
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}], None)
    assert writer.commit() == f"file://{tmp_path}/out.jsonl"
    assert (tmp_path / "out.jsonl").read_text() == '{"id":1}\n'


def test_a_remote_output_is_staged_per_url(tmp_path: Path) -> None:
    """An fsspec URL's local files go to ``<staging>/vendorgate-staging``, named after the
    URL's digest and its file name, so two URLs never share them."""
    url = "s3://bucket/a/out.jsonl"
    out = Output(path=url, staging_dir=tmp_path)
    assert out.is_url
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    base = tmp_path / "vendorgate-staging" / f"{digest}-out.jsonl"
    assert out.partial_path == Path(f"{base}.partial")
    assert out.lock_file == Path(f"{base}.lock")
    assert out.checkpoint_file == Path(f"{base}.checkpoint.json")
    assert (tmp_path / "vendorgate-staging").is_dir()
    other = Output(path="s3://bucket/b/out.jsonl", staging_dir=tmp_path)
    assert other.partial_path != out.partial_path


def test_remote_staging_defaults_to_the_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = Output(path="s3://bucket/out.jsonl")
    assert out.partial_path.parent == tmp_path / "vendorgate-staging"


@pytest.mark.parametrize(
    ("path", "flag", "compressed"),
    [
        ("out.jsonl.gz", None, True),
        ("out.jsonl", None, False),
        ("out.jsonl.gz", False, False),
        ("out.jsonl", True, True),
    ],
)
def test_gzip_follows_the_flag_else_the_suffix(
    tmp_path: Path, path: str, flag: bool | None, compressed: bool
) -> None:
    assert Output(path=tmp_path / path, gzip=flag).compressed is compressed


RUN_ID_WORDS = "must be a non-empty string (e.g. the orchestrator's run id) or None"


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"path": ""}, "path", "must be a local path or an fsspec URL"),
        ({"run_id": ""}, "run_id", RUN_ID_WORDS),
        ({"run_id": 7}, "run_id", RUN_ID_WORDS),
        ({"claim_ttl_s": 0}, "claim_ttl_s", "must be a finite number of seconds > 0"),
        ({"claim_ttl_s": -1.0}, "claim_ttl_s", "must be a finite number of seconds > 0"),
        ({"claim_ttl_s": math.inf}, "claim_ttl_s", "must be a finite number of seconds > 0"),
        ({"claim_ttl_s": math.nan}, "claim_ttl_s", "must be a finite number of seconds > 0"),
        ({"claim_ttl_s": True}, "claim_ttl_s", "must be a finite number of seconds > 0"),
        ({"claim_ttl_s": "600"}, "claim_ttl_s", "must be a finite number of seconds > 0"),
    ],
)
def test_bad_output_settings_are_refused_naming_the_field(
    settings: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        Output(**{"path": "out.jsonl", **settings})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: {words}")


@pytest.mark.parametrize("ttl", [0.001, 1, 600.0])
def test_any_positive_claim_ttl_is_accepted(ttl: float) -> None:
    assert Output(path="out.jsonl", claim_ttl_s=ttl, run_id="r").claim_ttl_s == ttl


def test_as_output_takes_an_output_or_a_path(tmp_path: Path) -> None:
    out = Output(path=tmp_path / "a.jsonl", gzip=True)
    assert as_output(out) is out
    assert as_output(str(tmp_path / "b.jsonl")) == Output(path=str(tmp_path / "b.jsonl"))
    assert as_output(tmp_path / "c.jsonl") == Output(path=tmp_path / "c.jsonl")
    with pytest.raises(ConfigurationError) as info:
        as_output(42)  # type: ignore[arg-type]
    assert str(info.value) == "output: must be a path, an fsspec URL or an Output"


def test_a_checkpoint_reads_back_what_was_written(tmp_path: Path) -> None:
    position = PageRequest("/items", {"page": 3, "per_page": 10}, {"server_page_size": 10})
    cp = Checkpoint({"url": "u", "gzip": False}, position, 20, 2, 180, "run-1")
    path = tmp_path / "cp.json"
    path.write_text(json.dumps(cp.to_dict()))
    assert Checkpoint.load(path) == cp
    assert json.loads(path.read_text())["version"] == 2
    done = Checkpoint({"url": "u"}, None, 20, 3, 180, None)
    path.write_text(json.dumps(done.to_dict()))
    assert Checkpoint.load(path) == done
    assert Checkpoint.load(tmp_path / "missing.json") is None


def test_a_checkpoint_run_that_is_not_text_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    data = Checkpoint({}, None, 0, 0, 0, "r").to_dict() | {"run": 5}
    path.write_text(json.dumps(data))
    loaded = Checkpoint.load(path)
    assert loaded is not None
    assert loaded.run is None


@pytest.mark.parametrize("text", ['{"version": 2', "\xff\xfe"], ids=["truncated", "not-utf8"])
def test_an_unreadable_checkpoint_names_itself_and_the_way_out(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cp.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigurationError) as info:
        Checkpoint.load(path)
    assert info.value.field == "output"
    kind = type(info.value.__cause__).__name__
    assert kind in ("JSONDecodeError", "UnicodeDecodeError")
    assert str(info.value) == (
        f"output: checkpoint {path} is unreadable ({kind}); delete it to start the pull over"
    )


def test_a_checkpoint_that_cannot_be_read_as_a_file_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "cp.json").mkdir()
    with pytest.raises(ConfigurationError, match=r"is unreadable \(IsADirectoryError\)"):
        Checkpoint.load(tmp_path / "cp.json")


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"source": {}, "position": None, "records": 0, "pages": 0, "bytes": 0},
        {"version": 1, "source": {}, "position": None, "records": 0, "pages": 0, "bytes": 0},
        {"version": 2, "source": [], "position": None, "records": 0, "pages": 0, "bytes": 0},
    ],
    ids=["list", "no-version", "version-1", "source-not-a-table"],
)
def test_a_checkpoint_of_another_format_is_refused(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "cp.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError) as info:
        Checkpoint.load(path)
    assert str(info.value) == (
        f"output: checkpoint {path} has an unknown format (another vendorgate version?); "
        "delete it and its .partial file to start over"
    )


def _serializer_a(record: Any) -> bytes:
    return json.dumps(record).encode()


def _serializer_b(record: Any) -> bytes:
    return json.dumps(record).encode()


def test_the_identity_of_a_pull_is_plain_json() -> None:
    """What a checkpoint records about its pull, and so compares on a rerun."""
    out = Output(path="out.jsonl.gz", serializer=_serializer_a)
    first = PageRequest("/items", {"b": [1, 2], "a": {"y": 1, "x": None}, "s": {3, 1, 2}})
    identity = source_identity(
        first, out, base_url="https://api.test/items", paginator=CursorInBody(limit=5)
    )
    here = f"{__name__}"
    assert identity == {
        "url": "https://api.test/items",
        "params": {"a": {"x": None, "y": 1}, "b": [1, 2], "s": [1, 2, 3]},
        "strategy": {
            "class": "vendorgate.http._pagination.CursorInBody",
            "records_path": "items",
            "allow_cross_origin": False,
            "cursor_param": "cursor",
            "cursor_path": "next_cursor",
            "limit_param": "limit",
            "limit": 5,
        },
        "gzip": True,
        "serializer": f"{here}._serializer_a",
    }
    assert list(identity["params"]) == ["a", "b", "s"]
    assert json.loads(json.dumps(identity)) == identity
    assert source_identity(first, out)["url"] == "/items"
    assert source_identity(first, out)["strategy"] is None


def test_an_equal_pull_has_the_same_identity_whatever_the_order() -> None:
    out = Output(path="out.jsonl")
    one = PageRequest("/items", {"a": 1, "b": {"x": 1, "y": 2}, "s": frozenset({"p", "q"})})
    two = PageRequest("/items", {"b": {"y": 2, "x": 1}, "s": frozenset({"q", "p"}), "a": 1})
    assert source_identity(one, out) == source_identity(two, out)


def test_a_rerun_with_another_serializer_is_refused_naming_what_differs(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    writer = OutputWriter(Output(path=target, serializer=_serializer_a), FIRST)
    writer.open()
    writer.write_page([{"id": 1}], PageRequest("/items", {"page": 2}))
    writer.close()
    other = OutputWriter(
        Output(path=target, gzip=True, serializer=_serializer_b),
        FIRST,
        paginator=PageNumber(page_size=5),
    )
    with pytest.raises(ConfigurationError) as info:
        other.open()
    checkpoint = Output(path=target).checkpoint_file
    assert str(info.value) == (
        f"output: checkpoint {checkpoint} belongs to another pull (differs in: gzip, "
        "serializer, strategy); rerun with the original settings to resume it, or delete it "
        "(and its .partial file) to start over"
    )
    again = OutputWriter(Output(path=target, serializer=_serializer_a), FIRST)
    assert again.open() == PageRequest("/items", {"page": 2})
    again.close()


def test_write_page_before_open_is_an_error(tmp_path: Path) -> None:
    writer = OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST)
    with pytest.raises(RuntimeError, match=r"^OutputWriter.open\(\) must be called first$"):
        writer.write_page([{"id": 1}], None)


def test_gzip_pages_are_reproducible_members_and_an_empty_page_adds_nothing(
    tmp_path: Path,
) -> None:
    """Each page is one gzip member without a timestamp (the same records give the same
    bytes); a page without records writes no member and leaves the byte count alone."""
    out = Output(path=tmp_path / "out.jsonl.gz")
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}], PageRequest("/items", {"page": 2}))
    size = out.partial_path.stat().st_size
    writer.write_page([], PageRequest("/items", {"page": 3}))
    cp = Checkpoint.load(out.checkpoint_file)
    assert cp is not None
    assert (cp.bytes, cp.records, cp.pages) == (size, 1, 2)
    assert out.partial_path.stat().st_size == size
    writer.write_page([{"id": 2}], None)
    writer.commit()
    data = (tmp_path / "out.jsonl.gz").read_bytes()
    first = gzip.compress(b'{"id":1}\n', compresslevel=6, mtime=0)
    assert data == first + gzip.compress(b'{"id":2}\n', compresslevel=6, mtime=0)
    assert data[4:8] == b"\0\0\0\0"  # no modification time in the member header


def test_the_lock_file_names_its_holder_and_goes_with_it(tmp_path: Path) -> None:
    """While a writer holds a local output, its lock file says who it is (whatever a
    crashed holder left there before); a second writer is refused naming it; the lock
    file goes when the holder closes."""
    lock = Output(path=tmp_path / "out.jsonl").lock_file
    lock.write_text(json.dumps({"run": "x" * 500, "pid": 1, "host": "old"}))
    holder = OutputWriter(Output(path=tmp_path / "out.jsonl", run_id="run-9"), FIRST)
    holder.open()
    info = json.loads(lock.read_text())
    assert (info["run"], info["pid"], info["host"]) == ("run-9", os.getpid(), socket.gethostname())
    with pytest.raises(OutputBusyError) as refused:
        OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST).open()
    assert str(refused.value) == (
        f"output {tmp_path / 'out.jsonl'} is being written by another pull (pid {os.getpid()} "
        f"on {socket.gethostname()}, run run-9, since {info['since']}); two pulls to one "
        "output would corrupt it. Wait for that pull to finish (or stop it), or give this "
        "pull another output path"
    )
    assert refused.value.lock_path == str(lock)
    holder.close()
    assert not lock.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl.partial"]


@pytest.mark.parametrize("content", ["not json", "[1, 2]"], ids=["unreadable", "other-json"])
def test_a_lock_file_without_a_holder_still_refuses_naming_the_lock(
    tmp_path: Path, content: str
) -> None:
    """A holder whose lock file says nothing readable (not JSON, or JSON of another
    shape) is named by the lock's path."""
    out = Output(path=tmp_path / "out.jsonl")
    holder = OutputWriter(out, FIRST)
    holder.open()
    out.lock_file.write_text(content)
    with pytest.raises(OutputBusyError, match=r"another pull \(lock .*out\.jsonl\.lock\); two"):
        OutputWriter(out, FIRST).open()
    holder.close()


def _crash_after_the_rename(output: Output, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull killed between moving its file into place and removing its checkpoint."""
    checkpoint = commit_killed_before_checkpoint_removal(OutputWriter(output, FIRST), monkeypatch)
    assert checkpoint.exists()


def test_the_retry_of_a_file_url_pull_crashed_after_the_rename_fetches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = Output(path=f"file://{tmp_path}/out.jsonl", run_id="run-1")
    _crash_after_the_rename(output, monkeypatch)
    retry = OutputWriter(output, FIRST)
    assert retry.open() is None
    assert retry.commit() == f"file://{tmp_path}/out.jsonl"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_the_retry_finding_its_file_changed_after_the_rename_fetches_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same run's retry only trusts a file of the size its checkpoint recorded."""
    output = Output(path=tmp_path / "out.jsonl", run_id="run-1")
    _crash_after_the_rename(output, monkeypatch)
    (tmp_path / "out.jsonl").write_text('{"id":1}\n')
    retry = OutputWriter(output, FIRST)
    assert retry.open() == FIRST
    assert not retry.resumed
    retry.close()


def test_records_are_written_as_compact_utf8_json_lines(tmp_path: Path) -> None:
    """The default serializer keeps text as UTF-8 (no ``\\u`` escapes) and adds no spaces."""
    writer = OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST)
    writer.open()
    writer.write_page([{"id": 1, "name": "Zoë", "city": "東京"}, [1, 2]], None)
    writer.commit()
    expected = '{"id":1,"name":"Zoë","city":"東京"}\n[1,2]\n'
    assert (tmp_path / "out.jsonl").read_bytes() == expected.encode()


def test_an_output_committed_without_a_page_is_an_empty_file(tmp_path: Path) -> None:
    """A custom loop that found nothing to write still publishes its (empty) file."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    assert writer.open() == FIRST
    assert writer.commit() == str(tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_another_runs_finished_checkpoint_beside_an_empty_partial_file_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left by a crash after the rename, then a pull that died right after its open (its
    partial file still empty): the next run drops both and fetches from the start."""
    _crash_after_the_rename(Output(path=tmp_path / "out.jsonl", run_id="run-1"), monkeypatch)
    output = Output(path=tmp_path / "out.jsonl", run_id="run-2")
    output.partial_path.write_bytes(b"")
    writer = OutputWriter(output, FIRST)
    assert writer.open() == FIRST
    assert not writer.resumed
    assert not output.checkpoint_file.exists()
    writer.write_page([{"id": 9}], None)
    writer.commit()
    assert (tmp_path / "out.jsonl").read_text() == '{"id":9}\n'


def test_the_lock_file_is_read_write_for_its_owner_and_readable_for_others(
    tmp_path: Path,
) -> None:
    holder = OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST)
    umask = os.umask(0o022)
    try:
        holder.open()
        assert holder.output.lock_file.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)
        holder.close()


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The process's local time zone set to UTC+9 for the test."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_holder_is_named_with_its_start_in_utc(tmp_path: Path, tokyo: Any) -> None:
    """``since`` in the lock file is UTC (ISO 8601, ``Z``), whatever the local zone."""
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    holder = OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST)
    holder.open()
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    since = json.loads(holder.output.lock_file.read_text())["since"]
    holder.close()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", since)
    assert before <= since <= after


def test_the_identity_keeps_list_order_and_sorts_sets_and_odd_keys() -> None:
    """Lists are ordered (kept as given); sets are not (sorted, whatever their iteration
    order); keys of mixed types are sorted as text; other values are told apart by repr."""
    out = Output(path="out.jsonl")
    words = {f"w{i}" for i in range(20)}
    assert list(words) != sorted(words)  # iteration order is not sorted
    first = PageRequest(
        "/items",
        {"b": [2, 1], "s": words, "m": {1, "a"}, "k": {2: "x", "a": "y"}, "d": Path("/x")},
    )
    params = source_identity(first, out)["params"]
    assert params["b"] == [2, 1]
    assert params["s"] == sorted(words)
    assert params["m"] == ["a", 1]
    assert params["k"] == {"2": "x", "a": "y"}
    assert params["d"] == repr(Path("/x"))
    other = PageRequest("/items", {**first.params, "d": Path("/y")})
    assert source_identity(other, out)["params"]["d"] == repr(Path("/y"))


def test_a_serializer_is_named_by_module_and_name() -> None:
    import functools

    class Dumps:
        def __call__(self, record: Any) -> bytes:
            return b""

    named: dict[str, tuple[Any, str]] = {
        "partial": (functools.partial(json.dumps), "functools.partial"),
        "instance": (Dumps(), f"{__name__}.{Dumps.__qualname__}"),
    }
    for serializer, name in named.values():
        out = Output(path="out.jsonl", serializer=serializer)
        assert source_identity(FIRST, out)["serializer"] == name
    anonymous: Any = functools.partial(json.dumps)
    anonymous.__module__ = None
    out = Output(path="out.jsonl", serializer=anonymous)
    assert source_identity(FIRST, out)["serializer"] == "?.partial"


def test_a_writer_never_opened_closes_quietly_and_open_makes_the_directories(
    tmp_path: Path,
) -> None:
    OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST).close()
    nested = Output(path=tmp_path / "a" / "b" / "out.jsonl")
    writer = OutputWriter(nested, FIRST)
    assert writer.open() == FIRST
    writer.write_page([{"id": 1}], None)
    writer.commit()
    writer.close()
    assert (tmp_path / "a" / "b" / "out.jsonl").read_text() == '{"id":1}\n'
