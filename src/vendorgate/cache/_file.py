"""A store and a lock in a directory: safe across processes of one host (fcntl locks)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vendorgate._errors import CacheError, ConfigurationError
from vendorgate.cache._base import CacheBackend, RefreshLock, TokenStore
from vendorgate.cache._codec import decode_entry, encode_entry, log, storage_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from vendorgate._token import Token

__all__ = ["FileBackend", "FileLock", "FileStore"]

# Directories whose permissions were already warned about (one warning per process).
_WARNED: set[Path] = set()
_WARNED_GUARD = threading.Lock()


class _FileDirectory:
    """Tokens and locks in files of one directory, shared by every process of a host.

    Each key has ``<hash>.json`` (the entry, written atomically through a temporary file
    and ``os.replace``, mode 0600 because it holds tokens), ``<hash>.lock`` (the refresh
    lock, an ``fcntl.flock`` the kernel releases the moment its holder dies) and
    ``<hash>.mutex`` (held briefly around compare-before-delete and around the
    ``os.replace`` of a write, so an invalidation never deletes a token stored while it
    compared). The directory is created with mode 0700; an existing directory that
    another user owns or that group or others may write is used with one WARNING
    (they could read or plant tokens). POSIX only.

    Args:
        directory: Where the entries live, e.g. ``~/.cache/vendorgate``. Use a local
            file system: ``flock`` over NFS is not reliable.
        clock: Returns the current epoch time (tests inject a fake one).

    Raises:
        ConfigurationError: ``directory`` exists and is not a directory.
    """

    name = "file"

    def __init__(
        self, directory: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ):
        if not isinstance(directory, (str, os.PathLike)) or not str(directory):
            raise ConfigurationError(
                "must be a directory path, e.g. '~/.cache/vendorgate'", field="directory"
            )
        self.directory = Path(directory).expanduser()
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigurationError(
                f"{self.directory} exists and is not a directory; choose a directory path",
                field="directory",
            )
        self._clock = clock
        self._checked = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.directory)!r})"

    def _path(self, key: str, suffix: str) -> Path:
        return self.directory / f"{storage_name(key)}.{suffix}"

    def _ensure_dir(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the token cache directory {self.directory} ({exc.strerror}); "
                "check its permissions"
            ) from exc
        if not self._checked:
            self._checked = True
            self._check_permissions()

    def _check_permissions(self) -> None:
        """Warn once per directory when another user owns it or may write into it."""
        try:
            info = self.directory.stat()
        except OSError:
            return
        foreign = hasattr(os, "getuid") and info.st_uid != os.getuid()
        writable = bool(info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
        if not (foreign or writable):
            return
        with _WARNED_GUARD:
            if self.directory in _WARNED:
                return
            _WARNED.add(self.directory)
        log.warning(
            "token cache: the directory %s %s; other users could read or replace cached "
            "tokens: use a directory of your own with mode 0700",
            self.directory,
            "is owned by another user" if foreign else "is writable by group or others",
        )

    @contextmanager
    def _flock(self, path: Path, *, wait_s: float) -> Iterator[bool]:
        import fcntl

        self._ensure_dir()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CacheError(f"cannot open the lock file {path} ({exc.strerror})") from exc
        try:
            deadline = time.monotonic() + wait_s
            delay = 0.002
            held = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise CacheError(f"cannot lock {path} ({exc.strerror})") from exc
                if time.monotonic() >= deadline:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            try:
                yield held
            finally:
                if held:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class FileStore(_FileDirectory, TokenStore):
    """The token store of :class:`FileBackend` alone (``<hash>.json`` files, mode 0600).

    Its compare-before-delete is atomic (a per-key ``<hash>.mutex`` lock around the
    compare and around the ``os.replace`` of a write). Arguments as :class:`FileBackend`.
    """

    name = "file"
    atomic_delete = True

    def get(self, key: str) -> Token | None:
        """Return the stored token, or ``None`` when absent, expired or corrupt."""
        path = self._path(key, "json")
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning(
                "token cache: cannot read a file entry (%s); it counts as a miss", exc.strerror
            )
            return None
        token = decode_entry(raw, backend=self.name)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def set(self, key: str, token: Token) -> None:
        """Write the entry atomically (temporary file, fsync, ``os.replace``), mode 0600.

        The replace happens under the key's mutex, the one :meth:`delete_if` holds while
        it compares, so a concurrent invalidation cannot delete the token written here.
        """
        self._ensure_dir()
        data = encode_entry(token).encode()
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            with self._flock(self._path(key, "mutex"), wait_s=5.0) as held:
                if not held:
                    raise CacheError("the file cache entry stayed locked for 5 s")
                os.replace(tmp, self._path(key, "json"))
            tmp = None
        except OSError as exc:
            raise CacheError(
                f"cannot write a token cache entry in {self.directory} ({exc.strerror})"
            ) from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Delete the entry only if it still holds the token with ``fingerprint``."""
        path = self._path(key, "json")
        if not path.exists():
            return False
        with self._flock(self._path(key, "mutex"), wait_s=5.0) as held:
            if not held:
                raise CacheError("the file cache entry stayed locked for 5 s")
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise CacheError(f"cannot read a file cache entry ({exc.strerror})") from exc
            token = decode_entry(raw, backend=self.name)
            if token is not None and token.fingerprint != fingerprint:
                return False
            # The matching token, or a corrupt entry: remove it.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return token is not None


class FileLock(_FileDirectory, RefreshLock):
    """The refresh lock of :class:`FileBackend` alone: ``flock`` on ``<hash>.lock``.

    The kernel frees it the moment its holder dies, so it needs no TTL and no renewal.
    Pair it with any store whose workers run on this host. Arguments as :class:`FileBackend`.
    """

    name = "file"

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        """Hold ``flock`` on the key's lock file; released by the kernel if the holder dies.

        ``ttl_s`` is not needed: the kernel frees the lock at once when its holder exits.
        """
        with self._flock(self._path(key, "lock"), wait_s=wait_s) as held:
            yield held


class FileBackend(FileStore, FileLock, CacheBackend):
    """:class:`FileStore` and :class:`FileLock` on one directory (``TokenCache(backend)``).

    Each key has ``<hash>.json`` (the entry, written atomically through a temporary file
    and ``os.replace``, mode 0600 because it holds tokens), ``<hash>.lock`` (the refresh
    lock, an ``fcntl.flock`` the kernel releases the moment its holder dies) and
    ``<hash>.mutex`` (held briefly around compare-before-delete and around the
    ``os.replace`` of a write). POSIX only.

    Args:
        directory: Where the entries live, e.g. ``~/.cache/vendorgate``. Use a local
            file system: ``flock`` over NFS is not reliable.
        clock: Returns the current epoch time (tests inject a fake one).

    Raises:
        ConfigurationError: ``directory`` exists and is not a directory.
    """

    name = "file"
