"""A store and a lock that live in this process: for tests and for several caches in one process."""

from __future__ import annotations

import os
import threading
import time
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING

from vendorgate.cache._base import CacheBackend, RefreshLock, TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from vendorgate._token import Token

__all__ = ["MemoryBackend", "MemoryLock", "MemoryStore"]


class MemoryStore(TokenStore):
    """An in-process :class:`TokenStore` (thread-safe; shared by nothing outside the process).

    :class:`~vendorgate.cache.TokenCache` already keeps a memory level in front of every
    store; this one exists to share one store between several ``TokenCache`` objects of
    the same process and as the reference implementation of the store contract.

    Args:
        clock: Returns the current epoch time (tests inject a fake one).
    """

    name = "memory"
    atomic_delete = True

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, Token] = {}
        self._guard = threading.Lock()
        _LIVE.add(self)

    def _reset_after_fork(self) -> None:
        """In a forked child: locks held by the parent's other threads would never be freed."""
        self._guard = threading.Lock()

    def get(self, key: str) -> Token | None:
        """Return the stored token, or ``None`` when absent or expired."""
        with self._guard:
            token = self._entries.get(key)
            if token is not None and token.expires_at <= self._clock():
                del self._entries[key]
                return None
            return token

    def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key`` until it expires."""
        with self._guard:
            self._entries[key] = token

    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Delete the entry only if its token has this ``fingerprint`` (atomically)."""
        with self._guard:
            token = self._entries.get(key)
            if token is not None and token.fingerprint == fingerprint:
                del self._entries[key]
                return True
            return False


class MemoryLock(RefreshLock):
    """An in-process :class:`RefreshLock`: per-key thread locks (``ttl_s`` is not needed)."""

    name = "memory"

    def __init__(self) -> None:
        self._locks_guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        _LIVE.add(self)

    def _reset_after_fork(self) -> None:
        self._locks_guard = threading.Lock()
        self._locks = {}

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        """Hold the per-key lock (threads of this process only)."""
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        acquired = lock.acquire(timeout=wait_s)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()


class MemoryBackend(MemoryStore, MemoryLock, CacheBackend):
    """:class:`MemoryStore` and :class:`MemoryLock` in one object (``TokenCache(backend)``).

    Args:
        clock: Returns the current epoch time (tests inject a fake one).
    """

    name = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        MemoryStore.__init__(self, clock=clock)
        MemoryLock.__init__(self)

    def _reset_after_fork(self) -> None:
        MemoryStore._reset_after_fork(self)
        MemoryLock._reset_after_fork(self)


_LIVE: weakref.WeakSet[MemoryStore | MemoryLock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for obj in list(_LIVE):
        obj._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
