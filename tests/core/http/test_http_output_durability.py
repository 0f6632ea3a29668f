"""The output commit protocol, observed at the system calls: fsync, rename, unlink order."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate.http import Output, OutputWriter, PageNumber, PageRequest, VendorClient

FIRST = PageRequest("/items", {"page": 1})


class Syscalls:
    """Records fsync (by file path), replace/rename and unlink, then does them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, ...]] = []
        real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename
        real_unlink = os.unlink

        def fsync(fd: int) -> None:
            self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
            real_fsync(fd)

        def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            self.events.append(("rename", os.fspath(src), os.fspath(dst)))
            real_replace(src, dst)

        def rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            self.events.append(("rename", os.fspath(src), os.fspath(dst)))
            real_rename(src, dst)

        def unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
            self.events.append(("unlink", os.fspath(path)))
            real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(os, "rename", rename)
        monkeypatch.setattr(os, "unlink", unlink)

    def index(self, event: tuple[str, ...], start: int = 0) -> int:
        return self.events.index(event, start)

    def renames_to(self, dst: Path) -> list[tuple[str, ...]]:
        return [e for e in self.events if e[0] == "rename" and e[2] == str(dst)]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
def syscalls(monkeypatch: pytest.MonkeyPatch) -> Syscalls:
    return Syscalls(monkeypatch)


def _checkpoint_commit(calls: Syscalls, checkpoint: Path) -> tuple[int, int]:
    """Index of the fsync of the checkpoint's temporary file and of its rename into place."""
    (rename,) = calls.renames_to(checkpoint)
    tmp = rename[1]
    assert tmp != str(checkpoint), "the checkpoint must be written aside, then renamed"
    assert Path(tmp).parent == checkpoint.parent, "rename within one directory (atomic)"
    return calls.index(("fsync", tmp)), calls.index(rename)


def test_page_data_is_fsynced_before_its_checkpoint(tmp_path: Path, syscalls: Syscalls) -> None:
    """Each page's data reaches the disk before the checkpoint that counts it does."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    writer.open()
    for page in (1, 2, 3):
        syscalls.clear()
        writer.write_page([{"id": page}], PageRequest("/items", {"page": page + 1}))
        data_synced = syscalls.index(("fsync", str(out.partial_path)))
        cp_synced, cp_renamed = _checkpoint_commit(syscalls, out.checkpoint_file)
        assert data_synced < cp_synced < cp_renamed
    writer.close()


def test_checkpoint_is_replaced_whole_never_written_in_place(
    tmp_path: Path, syscalls: Syscalls
) -> None:
    """Every checkpoint on disk is a complete JSON document of the page it describes."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}], PageRequest("/items", {"page": 2}))
    syscalls.clear()
    writer.write_page([{"id": 2}], PageRequest("/items", {"page": 3}))
    (rename,) = syscalls.renames_to(out.checkpoint_file)
    assert json.loads(out.checkpoint_file.read_text())["records"] == 2
    assert not Path(rename[1]).exists()  # the temporary file became the checkpoint
    writer.close()


def test_commit_renames_the_data_then_removes_the_checkpoint(
    tmp_path: Path, syscalls: Syscalls
) -> None:
    """The final file appears by one rename of the synced data; the checkpoint goes after."""
    out = Output(path=tmp_path / "out.jsonl")
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}], None)
    syscalls.clear()
    writer.commit()
    moved = syscalls.index(("rename", str(out.partial_path), str(tmp_path / "out.jsonl")))
    removed = syscalls.index(("unlink", str(out.checkpoint_file)))
    assert moved < removed


def test_fsync_off_skips_fsync_but_keeps_the_renames(tmp_path: Path, syscalls: Syscalls) -> None:
    """Output(fsync=False) trades crash safety for speed, not atomicity."""
    out = Output(path=tmp_path / "out.jsonl", fsync=False)
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.write_page([{"id": 1}], None)
    writer.commit()
    assert [e for e in syscalls.events if e[0] == "fsync"] == []
    assert len(syscalls.renames_to(out.checkpoint_file)) == 1
    assert len(syscalls.renames_to(tmp_path / "out.jsonl")) == 1


def test_pull_syncs_every_page_before_checkpointing_it(tmp_path: Path, syscalls: Syscalls) -> None:
    """VendorClient.pull follows the protocol on every page: data fsync, then checkpoint."""

    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        rows = [{"id": i} for i in range((page - 1) * 10, min(page * 10, 25))]
        return httpx.Response(200, json={"items": rows, "pages": 3})

    target = tmp_path / "items.jsonl"
    with VendorClient(
        FakeSource(), base_url="https://api.test", transport=httpx.MockTransport(api)
    ) as client:
        client.pull("/items", PageNumber(page_size=10), output=target)
    out = Output(path=target)
    kinds = [
        "data" if e == ("fsync", str(out.partial_path)) else "checkpoint"
        for e in syscalls.events
        if (e[0] == "rename" and e[2] == str(out.checkpoint_file))
        or e == ("fsync", str(out.partial_path))
    ]
    assert kinds == ["data", "checkpoint"] * 3
    # The claim's lock file is released last; the commit itself ends with these two.
    commit = [e for e in syscalls.events if e[1] != str(out.lock_file)]
    assert commit[-2:] == [
        ("rename", str(out.partial_path), str(target)),
        ("unlink", str(out.checkpoint_file)),
    ]
