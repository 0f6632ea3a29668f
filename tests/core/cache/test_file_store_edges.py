"""What the file store does at its edges: unreadable and corrupt entries, an entry that
vanishes under a compare-and-delete, a mutex held too long, and where its temporary
files go. The wait on a held mutex is read from a sleep recorder, not the wall clock."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cache_helpers import make_token

import vendorgate.cache._file as file_module
from vendorgate import CacheError, ConfigurationError
from vendorgate.cache import FileBackend, FileLock, FileStore
from vendorgate.cache._codec import storage_name


def _entry(directory: Path, key: str) -> Path:
    return directory / f"{storage_name(key)}.json"


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _names_of(key: str, *suffixes: str) -> list[str]:
    return sorted(f"{storage_name(key)}.{suffix}" for suffix in suffixes)


class _FakeTime:
    """Stands in for the ``time`` module of ``_file``: a monotonic clock moved by ``sleep``.

    ``on_sleep`` runs at each sleep (after the clock moved), e.g. to free a held lock.
    """

    def __init__(self, on_sleep: Callable[[], None] | None = None) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.on_sleep = on_sleep or (lambda: None)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep()

    def time(self) -> float:
        return time.time()


@pytest.fixture
def held_mutex(tmp_path: Path) -> Iterator[Callable[[str], int]]:
    """Holds a key's ``<hash>.mutex`` as another process would (its own open file)."""
    fds: list[int] = []

    def hold(key: str) -> int:
        tmp_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp_path / f"{storage_name(key)}.mutex", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fds.append(fd)
        return fd

    yield hold
    for fd in fds:
        os.close(fd)


def test_repr_names_the_class_and_the_directory(tmp_path: Path) -> None:
    """Each file class shows its own name and the directory, nothing else."""
    assert repr(FileBackend(tmp_path)) == f"FileBackend({str(tmp_path)!r})"
    assert repr(FileStore(tmp_path)) == f"FileStore({str(tmp_path)!r})"
    assert repr(FileLock(tmp_path)) == f"FileLock({str(tmp_path)!r})"


def test_an_unreadable_entry_is_a_miss_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry the process cannot read is a miss; the warning says why, without content."""
    store = FileStore(tmp_path)
    _entry(tmp_path, "k").mkdir()  # reading it fails with an OSError (EISDIR)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        assert store.get("k") is None
    assert caplog.messages == [
        "token cache: cannot read a file entry (Is a directory); it counts as a miss"
    ]


def test_a_corrupt_entry_is_a_miss_named_as_a_file_entry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """get and delete_if both log the corrupt entry as the file store's; delete_if removes it."""
    store = FileStore(tmp_path)
    _entry(tmp_path, "k").write_text("not json at all")
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        assert store.get("k") is None
        assert store.delete_if("k", "any-fingerprint") is False
    assert (
        caplog.messages
        == ["token cache: ignoring a corrupt file entry (JSONDecodeError); it counts as a miss"] * 2
    )
    assert not _entry(tmp_path, "k").exists()


def test_delete_if_deletes_only_the_matching_token(tmp_path: Path) -> None:
    """Absent: False. Another token: False, kept. The same token: True, gone."""
    store = FileStore(tmp_path)
    token = make_token(time.time(), 600)
    assert store.delete_if("k", token.fingerprint) is False
    store.set("k", token)
    assert store.delete_if("k", "another-fingerprint") is False
    assert store.get("k") == token
    assert store.delete_if("k", token.fingerprint) is True
    assert store.get("k") is None
    assert not _entry(tmp_path, "k").exists()


def test_an_unreadable_entry_cannot_be_compared_and_says_so(tmp_path: Path) -> None:
    """delete_if on an entry it cannot read raises CacheError naming the reason."""
    _entry(tmp_path, "k").mkdir()
    with pytest.raises(CacheError) as raised:
        FileStore(tmp_path).delete_if("k", "fp")
    assert str(raised.value) == "cannot read a file cache entry (Is a directory)"


def test_an_entry_removed_while_delete_if_waits_for_the_mutex_was_not_deleted_by_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held_mutex: Callable[[str], int]
) -> None:
    """Another process removes the entry while this one waits for the mutex: False."""
    store = FileStore(tmp_path)
    token = make_token(time.time(), 600)
    store.set("k", token)
    fd = held_mutex("k")

    def other_process_deletes_then_unlocks() -> None:
        _entry(tmp_path, "k").unlink(missing_ok=True)
        fcntl.flock(fd, fcntl.LOCK_UN)

    monkeypatch.setattr(file_module, "time", _FakeTime(other_process_deletes_then_unlocks))
    assert store.delete_if("k", token.fingerprint) is False


def test_an_entry_removed_between_compare_and_unlink_still_counts_as_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone clearing the cache directory at that instant is no error: True."""
    store = FileStore(tmp_path)
    token = make_token(time.time(), 600)
    store.set("k", token)
    decode = file_module.decode_entry  # type: ignore[attr-defined]

    def decode_while_the_directory_is_cleared(raw: bytes, *, backend: str) -> object:
        _entry(tmp_path, "k").unlink()
        return decode(raw, backend=backend)

    monkeypatch.setattr(file_module, "decode_entry", decode_while_the_directory_is_cleared)
    assert store.delete_if("k", token.fingerprint) is True


@pytest.mark.parametrize("operation", ["set", "delete_if"])
def test_a_mutex_held_for_five_seconds_is_a_cache_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    held_mutex: Callable[[str], int],
    operation: str,
) -> None:
    """A write or a compare-and-delete waits 5 s for the key's mutex, then gives up."""
    store = FileStore(tmp_path)
    token = make_token(time.time(), 600)
    store.set("k", token)
    held_mutex("k")
    clock = _FakeTime()
    monkeypatch.setattr(file_module, "time", clock)
    attempt: Callable[[], object] = (
        (lambda: store.set("k", make_token(time.time(), 600)))
        if operation == "set"
        else (lambda: store.delete_if("k", token.fingerprint))
    )
    with pytest.raises(CacheError) as raised:
        attempt()
    assert str(raised.value) == "the file cache entry stayed locked for 5 s"
    assert 5.0 - 1e-6 <= sum(clock.slept) < 5.0 + 0.05  # the last back-off step: <= 50 ms
    assert store.get("k") == token  # neither replaced nor deleted
    assert _names(tmp_path) == _names_of("k", "json", "mutex")  # no temporary file left


def test_entries_are_written_through_the_cache_directory_whatever_tmpdir_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file lives beside the entry (one file system: the rename is atomic)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmpdir"))
    directory = tmp_path / "home" / ".cache" / "vendorgate"  # created with its parents
    store = FileStore(directory)
    token = make_token(time.time(), 600)
    store.set("k", token)
    assert store.get("k") == token
    assert _names(directory) == _names_of("k", "json", "mutex")


def test_a_write_that_cannot_replace_the_entry_is_a_cache_error_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    """The rename fails (the entry's name is taken by a directory): CacheError, no leftovers."""
    (_entry(tmp_path, "k") / "occupied").mkdir(parents=True)
    with pytest.raises(CacheError) as raised:
        FileStore(tmp_path).set("k", make_token(time.time(), 600))
    assert str(raised.value) == f"cannot write a token cache entry in {tmp_path} (Is a directory)"
    assert _names(tmp_path) == _names_of("k", "json", "mutex")  # no temporary file left


def test_a_temporary_file_removed_while_its_write_waits_is_a_cache_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held_mutex: Callable[[str], int]
) -> None:
    """Someone clears the cache directory during a write: CacheError, not a crash."""
    store = FileStore(tmp_path)
    fd = held_mutex("k")

    def directory_cleared_then_unlocked() -> None:
        for path in tmp_path.iterdir():
            if path.name != f"{storage_name('k')}.mutex":
                path.unlink()
        fcntl.flock(fd, fcntl.LOCK_UN)

    monkeypatch.setattr(file_module, "time", _FakeTime(directory_cleared_then_unlocked))
    with pytest.raises(CacheError) as raised:
        store.set("k", make_token(time.time(), 600))
    assert str(raised.value) == (
        f"cannot write a token cache entry in {tmp_path} (No such file or directory)"
    )
    assert store.get("k") is None


@pytest.mark.parametrize("directory", ["", 42, None])
def test_a_directory_that_is_no_path_is_refused_naming_the_field(directory: object) -> None:
    """An empty path or a non-path is a configuration error, with an example of a good one."""
    with pytest.raises(ConfigurationError) as raised:
        FileBackend(directory)  # type: ignore[arg-type]
    assert str(raised.value) == "directory: must be a directory path, e.g. '~/.cache/vendorgate'"


def test_a_file_given_as_the_directory_is_refused_naming_it(tmp_path: Path) -> None:
    """A path to an existing file: a configuration error that says what to choose."""
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigurationError) as raised:
        FileBackend(tmp_path / "file")
    assert str(raised.value) == (
        f"directory: {tmp_path / 'file'} exists and is not a directory; choose a directory path"
    )


def test_a_directory_that_cannot_be_created_is_a_cache_error(tmp_path: Path) -> None:
    """Its parent is a file: the first write fails with a CacheError naming the directory."""
    (tmp_path / "file").write_text("")
    directory = tmp_path / "file" / "cache"
    with pytest.raises(CacheError) as raised:
        FileStore(directory).set("k", make_token(time.time(), 600))
    assert str(raised.value) == (
        f"cannot create the token cache directory {directory} (Not a directory); "
        "check its permissions"
    )


def test_a_private_directory_of_ones_own_gives_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Mode 0700, owned by this user: nothing to warn about."""
    directory = tmp_path / f"private-{uuid.uuid4().hex}"
    directory.mkdir(mode=0o700)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        FileBackend(directory).set("k", make_token(time.time(), 600))
    assert caplog.messages == []


@pytest.mark.parametrize(
    ("flaw", "said"),
    [("group-writable", "is writable by group or others"), ("foreign", "is owned by another user")],
)
def test_an_unsafe_directory_warning_says_what_is_wrong_and_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, flaw: str, said: str
) -> None:
    """The warning names the directory, its flaw, the risk and the remedy, in full."""
    directory = tmp_path / f"shared-{uuid.uuid4().hex}"  # once per directory and process
    directory.mkdir(mode=0o700)
    if flaw == "group-writable":
        directory.chmod(0o770)
    else:
        if os.getuid() != 0:
            pytest.skip("changing a directory's owner needs root")
        os.chown(directory, 65534, 65534)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        FileBackend(directory).set("k", make_token(time.time(), 600))
    assert caplog.messages == [
        f"token cache: the directory {directory} {said}; other users could read or replace "
        "cached tokens: use a directory of your own with mode 0700"
    ]
