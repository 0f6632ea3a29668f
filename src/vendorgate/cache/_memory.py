"""A shared level that lives in this process: for tests and for several caches in one process."""

from __future__ import annotations

import os
import threading
import time
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING

from vendorgate.cache._base import CacheBackend

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from vendorgate._token import Token

__all__ = ["MemoryBackend"]


class MemoryBackend(CacheBackend):
    """An in-process :class:`CacheBackend` (thread-safe; shared by nothing outside the process).

    :class:`~vendorgate.cache.TokenCache` already keeps a memory level in front of every
    backend; this backend exists to share one store between several ``TokenCache``
    objects of the same process and as the reference implementation of the contract.

    Args:
        clock: Returns the current epoch time (tests inject a fake one).
    """

    name = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, Token] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, list[float]]] = {}
        _LIVE.add(self)

    def _reset_after_fork(self) -> None:
        """In a forked child: locks held by the parent's other threads would never be freed."""
        self._guard = threading.Lock()
        self._locks = {}

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
        """Delete the entry only if its token has this ``fingerprint``."""
        with self._guard:
            token = self._entries.get(key)
            if token is not None and token.fingerprint == fingerprint:
                del self._entries[key]
                return True
            return False

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        """Hold the per-key lock (threads of this process only; ``ttl_s`` is not needed)."""
        with self._guard:
            lock, _ = self._locks.setdefault(key, (threading.Lock(), []))
        acquired = lock.acquire(timeout=wait_s)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()


_LIVE: weakref.WeakSet[MemoryBackend] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for backend in list(_LIVE):
        backend._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
