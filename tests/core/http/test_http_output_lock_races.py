"""The local lock's races with its holder's release, forced at the exact instant.

A holder releases by removing the lock file while still holding its ``flock``. A pull
that opened the file just before can then lock the removed file; it must notice (the
path no longer names what it locked), let that file go and try again, and never believe
it holds an output that another pull can lock too. The real ``flock`` runs; the test only
does the holder's (or a third pull's) part right after it. Where there is no ``flock``
(Windows), the lock is an exclusive create, run here with ``fcntl`` made unimportable.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from vendorgate import OutputBusyError
from vendorgate.http import Output, OutputWriter, PageRequest

FIRST = PageRequest("/items", {"page": 1})


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _after_each_lock(monkeypatch: pytest.MonkeyPatch, act: Callable[[int], None]) -> list[int]:
    """Run ``act(attempt)`` right after every successful ``flock``; return the attempts."""
    real = fcntl.flock
    attempts: list[int] = []

    def flock(fd: int, operation: int) -> None:
        real(fd, operation)
        attempts.append(len(attempts) + 1)
        act(attempts[-1])

    monkeypatch.setattr(fcntl, "flock", flock)
    return attempts


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_lock_on_a_file_its_holder_just_removed_is_let_go_and_taken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file was removed right after this pull locked it: it locks the file now at the
    path instead, writes its holder there, and a second pull is refused; no descriptor of
    the removed file stays open."""
    out = Output(path=tmp_path / "out.jsonl", run_id="run-1")
    before = _open_descriptors()

    def holder_releases(attempt: int) -> None:
        if attempt == 1:
            out.lock_file.unlink()

    attempts = _after_each_lock(monkeypatch, holder_releases)
    writer = OutputWriter(out, FIRST)
    writer.open()
    assert attempts == [1, 2]
    assert json.loads(out.lock_file.read_text())["run"] == "run-1"
    monkeypatch.undo()
    with pytest.raises(OutputBusyError, match=r"\(pid \d+ on .*, run run-1, since "):
        OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST).open()
    writer.close()
    assert _open_descriptors() == before
    assert not out.lock_file.exists()


def test_a_lock_file_replaced_by_another_pull_refuses_naming_that_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between this pull's lock and its check, the holder released and a third pull took
    the output with a new lock file: this pull is refused, naming the third."""
    out = Output(path=tmp_path / "out.jsonl", run_id="run-mine")
    third = OutputWriter(Output(path=tmp_path / "out.jsonl", run_id="run-third"), FIRST)

    def another_pull_takes_it(attempt: int) -> None:
        if attempt == 1:
            out.lock_file.unlink()
            third.open()  # its own flock is attempt 2

    attempts = _after_each_lock(monkeypatch, another_pull_takes_it)
    with pytest.raises(OutputBusyError, match=r"\(pid \d+ on .*, run run-third, since "):
        OutputWriter(out, FIRST).open()
    assert attempts == [1, 2]  # the third pull's; this pull's second lock was refused
    assert json.loads(out.lock_file.read_text())["run"] == "run-third"
    third.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_pull_that_loses_the_race_ten_times_is_refused_naming_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every lock taken turns out to be on a removed file: after ten tries the pull gives
    up with the busy error naming the lock file, and has closed every file it opened."""
    out = Output(path=tmp_path / "out.jsonl", run_id="run-1")
    before = _open_descriptors()
    attempts = _after_each_lock(monkeypatch, lambda attempt: out.lock_file.unlink())
    with pytest.raises(OutputBusyError) as refused:
        OutputWriter(out, FIRST).open()
    assert attempts == list(range(1, 11))
    assert str(refused.value) == (
        f"output {out.path} is being written by another pull (lock {out.lock_file}); two "
        "pulls to one output would corrupt it. Wait for that pull to finish (or stop it), "
        "or give this pull another output path"
    )
    assert (refused.value.path, refused.value.lock_path) == (str(out.path), str(out.lock_file))
    assert _open_descriptors() == before
    monkeypatch.undo()
    writer = OutputWriter(out, FIRST)  # nothing held: the next pull takes it
    writer.open()
    writer.close()


@pytest.fixture
def without_flock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The interpreter has no ``fcntl`` (Windows): ``import fcntl`` fails."""
    monkeypatch.setitem(sys.modules, "fcntl", None)


def test_without_flock_the_lock_is_an_exclusive_create_that_names_its_holder(
    tmp_path: Path, without_flock: None
) -> None:
    """Where ``flock`` does not exist the lock file is created exclusively: a second pull
    is refused naming the holder and what to do if no pull runs; the file goes on close."""
    out = Output(path=tmp_path / "out.jsonl", run_id="run-1")
    holder = OutputWriter(out, FIRST)
    umask = os.umask(0o022)
    try:
        holder.open()
    finally:
        os.umask(umask)
    assert out.lock_file.stat().st_mode & 0o777 == 0o644
    info = json.loads(out.lock_file.read_text())
    assert (info["run"], info["pid"]) == ("run-1", os.getpid())
    with pytest.raises(OutputBusyError) as refused:
        OutputWriter(Output(path=tmp_path / "out.jsonl"), FIRST).open()
    assert str(refused.value) == (
        f"output {out.path} is being written by another pull (pid {os.getpid()} on "
        f"{info['host']}, run run-1, since {info['since']}; if no pull is running, a crash "
        f"left it: delete {out.lock_file}); two pulls to one output would corrupt it. Wait "
        "for that pull to finish (or stop it), or give this pull another output path"
    )
    assert refused.value.lock_path == str(out.lock_file)
    holder.close()
    assert not out.lock_file.exists()
    again = OutputWriter(out, FIRST)  # free again
    again.open()
    again.close()


def test_without_flock_a_lock_file_left_by_a_crash_refuses_until_deleted(
    tmp_path: Path, without_flock: None
) -> None:
    out = Output(path=tmp_path / "out.jsonl")
    out.lock_file.write_text("not json")  # a crashed holder's, unreadable
    with pytest.raises(OutputBusyError, match=r"another pull \(lock .*; if no pull is running"):
        OutputWriter(out, FIRST).open()
    out.lock_file.unlink()
    writer = OutputWriter(out, FIRST)
    writer.open()
    writer.close()
