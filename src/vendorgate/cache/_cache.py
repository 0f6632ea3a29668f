"""The token cache: a memory level in front of an optional shared backend, single flight.

Reading path of :meth:`TokenCache.get_or_fetch` (the async twin is the same)::

    memory hit, not due for refresh ─────────────────────────────► token   (hot path)
    per-key thread lock (asyncio: per-loop per-key lock, then the thread lock)
      memory again (another thread may have refreshed)  ─────────► token
      shared backend get  (fresh for this process)      ─────────► token
      backend.lock(key)   (file lock / Redis SET NX PX / Vault CAS lease)
        shared backend get again (double-checked)       ─────────► token
        fetch(previous) ; backend.set ; memory set      ─────────► token

A shared backend that raises :class:`~vendorgate.CacheError` is skipped for
``backend_retry_s`` seconds with one WARNING; the memory level keeps working.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vendorgate._errors import CacheError, ConfigurationError
from vendorgate.cache._policy import RefreshPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractContextManager

    from vendorgate.cache._base import CacheBackend
    from vendorgate.tokens import Token

__all__ = ["TokenCache", "default_cache"]

log = logging.getLogger("vendorgate.cache")


@dataclass(frozen=True)
class _Entry:
    token: Token
    refresh_at: float  # from here on, the token is replaced (jitter included)
    usable_until: float  # until here, it may still be served while another worker refreshes


class TokenCache:
    """A token cache with proactive refresh and single-flight fetching.

    An in-process memory level always sits in front; ``backend`` (file, Redis, Vault KV,
    an orchestrator's store) shares tokens and the refresh lock across processes and hosts.

    Args:
        backend: Shared level, or ``None`` for a per-process cache.
        refresh_ratio: Share of a token's lifetime after which it is replaced.
        min_margin_s: Seconds of validity a served token keeps at least (at most half
            its lifetime).
        jitter_ratio: The refresh moment moves earlier by a random share of the
            lifetime in ``[0, jitter_ratio]`` (at most ``max_jitter_s``).
        max_jitter_s: Absolute bound of that jitter.
        clock_skew_s: Tolerated clock difference between workers and vendor; added to
            the minimum margin.
        lock_ttl_s: A cross-process lock expires this long after its holder died.
        lock_wait_s: How long a waiter waits for the lock before it re-reads the shared
            level and fetches anyway.
        backend_retry_s: After a backend failure, how long the cache uses memory only
            before it tries the backend again.
        clock: Returns the current epoch time (tests inject a fake one).
        rng: Random source of the jitter (tests inject a seeded one).

    Raises:
        ConfigurationError: a knob is out of range (the error names it).

    Example:
        >>> from vendorgate.cache import TokenCache
        >>> from vendorgate.tokens import Token
        >>> cache = TokenCache()
        >>> def fetch(previous):
        ...     return Token("abc", expires_at=time.time() + 3600, issued_at=time.time())
        >>> cache.get_or_fetch("demo", fetch).token_type
        'Bearer'
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        refresh_ratio: float = 0.9,
        min_margin_s: float = 30.0,
        jitter_ratio: float = 0.02,
        max_jitter_s: float = 60.0,
        clock_skew_s: float = 5.0,
        lock_ttl_s: float = 30.0,
        lock_wait_s: float = 35.0,
        backend_retry_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = RefreshPolicy(
            refresh_ratio=refresh_ratio,
            min_margin_s=min_margin_s,
            jitter_ratio=jitter_ratio,
            max_jitter_s=max_jitter_s,
            clock_skew_s=clock_skew_s,
        )
        for name, value in (
            ("lock_ttl_s", lock_ttl_s),
            ("lock_wait_s", lock_wait_s),
            ("backend_retry_s", backend_retry_s),
        ):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigurationError(f"must be a number > 0, got {value!r}", field=name)
        self.backend = backend
        self.lock_ttl_s = float(lock_ttl_s)
        self.lock_wait_s = float(lock_wait_s)
        self.backend_retry_s = float(backend_retry_s)
        self._clock = clock
        self._rng = rng or random.Random()
        self._memory: dict[str, _Entry] = {}
        # Last token seen per key, kept after invalidation/expiry so that a refresh
        # grant can use its refresh token.
        self._previous: dict[str, Token] = {}
        self._thread_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self._backend_down_until = 0.0
        self._degraded = False
        self._state_guard = threading.Lock()

    def __repr__(self) -> str:
        backend = self.backend.name if self.backend is not None else "memory only"
        return f"TokenCache(backend={backend!r}, keys={len(self._memory)})"

    # ------------------------------------------------------------------ public API

    def get_or_fetch(self, key: str, fetch: Callable[[Token | None], Token]) -> Token:
        """Return the cached token for ``key``, fetching it once for everyone when due.

        Args:
            key: Cache key (``TokenConfig.cache_key``: non-secret, same in every process).
            fetch: Called with the previous token (possibly expired, possibly ``None``)
                when a new token is needed; at most one call per key is in flight across
                threads, tasks, processes and (with a shared backend) hosts.

        Returns:
            A token that is not due for refresh; or, while another thread of this
            process is refreshing it, the current token if it is still usable (see
            :meth:`RefreshPolicy.usable_until`), so that only the refresher waits.
        """
        entry = self._memory.get(key)
        now = self._clock()
        if entry is not None and now < entry.refresh_at:
            return entry.token
        lock = self._thread_lock(key)
        if entry is not None and now < entry.usable_until:
            if not lock.acquire(blocking=False):
                # Another thread is refreshing and this token is still good: do not wait.
                return entry.token
        elif not lock.acquire(timeout=self.lock_wait_s):
            log.warning(
                "token cache: waited %.0f s for the in-process lock of a key; fetching anyway",
                self.lock_wait_s,
            )
            return self._fetch_and_store(key, fetch, self._previous.get(key))
        try:
            return self._locked_get_or_fetch(key, fetch)
        finally:
            lock.release()

    async def aget_or_fetch(
        self, key: str, afetch: Callable[[Token | None], Awaitable[Token]]
    ) -> Token:
        """Async :meth:`get_or_fetch`: never blocks the event loop while waiting.

        Args:
            key: Cache key.
            afetch: Coroutine function called with the previous token when needed.

        Returns:
            As :meth:`get_or_fetch`.
        """
        entry = self._memory.get(key)
        now = self._clock()
        if entry is not None and now < entry.refresh_at:
            return entry.token
        alock = self._async_lock(key)
        if entry is not None and now < entry.usable_until and alock.locked():
            # Another task is refreshing and this token is still good: do not wait.
            return entry.token
        async with alock:
            entry = self._memory.get(key)
            if entry is not None and self._clock() < entry.refresh_at:
                return entry.token
            lock = self._thread_lock(key)
            acquired = await _acquire_thread_lock(lock, self.lock_wait_s)
            try:
                return await self._alocked_get_or_fetch(key, afetch)
            finally:
                if acquired:
                    lock.release()

    def invalidate(self, key: str, token: Token) -> bool:
        """Forget ``token`` in every level, but only where it is still the stored one.

        Call it when the API answered the dialect's "token no longer good" status. A newer
        token stored meanwhile by another worker is left alone (compare-before-delete).

        Args:
            key: Cache key.
            token: The token the API refused.

        Returns:
            Whether the token was removed from at least one level.
        """
        removed = self._invalidate_memory(key, token)
        backend = self._usable_backend()
        if backend is not None:
            try:
                removed = backend.delete_if(key, token.fingerprint) or removed
            except CacheError as exc:
                self._mark_down(exc)
            else:
                self._mark_up()
        if removed:
            log.info("token cache: invalidated token %s", token.fingerprint)
        return removed

    async def ainvalidate(self, key: str, token: Token) -> bool:
        """Async :meth:`invalidate` (backend I/O runs in a worker thread)."""
        if self.backend is None:
            return self._invalidate_memory(key, token)
        return await asyncio.to_thread(self.invalidate, key, token)

    def peek(self, key: str) -> Token | None:
        """The token held in memory for ``key`` (due for refresh or not), or ``None``."""
        entry = self._memory.get(key)
        return entry.token if entry is not None else None

    def clear(self) -> None:
        """Drop the memory level (shared backends are untouched)."""
        self._memory.clear()
        self._previous.clear()

    def close(self) -> None:
        """Close the shared backend's connections."""
        if self.backend is not None:
            self.backend.close()

    @property
    def degraded(self) -> bool:
        """Whether the shared backend is currently skipped after a failure."""
        return self._degraded

    # ------------------------------------------------------------------ sync internals

    def _locked_get_or_fetch(self, key: str, fetch: Callable[[Token | None], Token]) -> Token:
        entry = self._memory.get(key)
        if entry is not None and self._clock() < entry.refresh_at:
            return entry.token
        shared = self._backend_get(key)
        if shared is not None:
            return shared.token
        backend = self._usable_backend()
        if backend is None:
            return self._fetch_and_store(key, fetch, self._previous.get(key))
        try:
            cm = backend.lock(key, ttl_s=self.lock_ttl_s, wait_s=self.lock_wait_s)
            acquired = cm.__enter__()
        except CacheError as exc:
            self._mark_down(exc)
            return self._fetch_and_store(key, fetch, self._previous.get(key))
        try:
            if not acquired:
                log.warning(
                    "token cache: %s lock not obtained within %.0f s; fetching anyway",
                    backend.name,
                    self.lock_wait_s,
                )
            shared = self._backend_get(key)
            if shared is not None:
                return shared.token
            return self._fetch_and_store(key, fetch, self._previous.get(key))
        finally:
            self._exit_lock(cm)

    def _fetch_and_store(
        self, key: str, fetch: Callable[[Token | None], Token], previous: Token | None
    ) -> Token:
        token = fetch(previous)
        self._store(key, token)
        return token

    def _store(self, key: str, token: Token) -> None:
        self._remember(key, token)
        backend = self._usable_backend()
        if backend is None:
            return
        try:
            backend.set(key, token)
        except CacheError as exc:
            self._mark_down(exc)
        else:
            self._mark_up()

    def _remember(self, key: str, token: Token) -> _Entry:
        entry = self._entry(token)
        self._memory[key] = entry
        self._previous[key] = token
        return entry

    def _entry(self, token: Token) -> _Entry:
        return _Entry(
            token, self.policy.refresh_at(token, self._rng), self.policy.usable_until(token)
        )

    def _backend_get(self, key: str) -> _Entry | None:
        """Read the shared level; return an entry only when fresh for this process."""
        backend = self._usable_backend()
        if backend is None:
            return None
        try:
            token = backend.get(key)
        except CacheError as exc:
            self._mark_down(exc)
            return None
        self._mark_up()
        if token is None:
            return None
        current = self._memory.get(key)
        if current is not None and current.token.fingerprint == token.fingerprint:
            # Same token already judged due in this process: do not re-draw the jitter.
            self._previous[key] = token
            return None
        entry = self._entry(token)
        self._previous[key] = token
        if self._clock() < entry.refresh_at:
            self._memory[key] = entry
            return entry
        return None

    def _invalidate_memory(self, key: str, token: Token) -> bool:
        entry = self._memory.get(key)
        if entry is not None and entry.token.fingerprint == token.fingerprint:
            # pop with a default: another thread may have removed it meanwhile.
            if self._memory.get(key) is entry:
                self._memory.pop(key, None)
            self._previous[key] = token
            return True
        return False

    def _exit_lock(self, cm: AbstractContextManager[bool]) -> None:
        try:
            cm.__exit__(None, None, None)
        except CacheError as exc:
            self._mark_down(exc)

    # ------------------------------------------------------------------ async internals

    async def _alocked_get_or_fetch(
        self, key: str, afetch: Callable[[Token | None], Awaitable[Token]]
    ) -> Token:
        entry = self._memory.get(key)
        if entry is not None and self._clock() < entry.refresh_at:
            return entry.token
        if self._usable_backend() is None:
            return await self._afetch_and_store(key, afetch)
        shared = await asyncio.to_thread(self._backend_get, key)
        if shared is not None:
            return shared.token
        backend = self._usable_backend()
        if backend is None:
            return await self._afetch_and_store(key, afetch)
        cm = backend.lock(key, ttl_s=self.lock_ttl_s, wait_s=self.lock_wait_s)
        enter = asyncio.ensure_future(asyncio.to_thread(cm.__enter__))
        try:
            acquired = await asyncio.shield(enter)
        except CacheError as exc:
            self._mark_down(exc)
            return await self._afetch_and_store(key, afetch)
        except asyncio.CancelledError:
            # The thread may still obtain the lock: release it when it does.
            enter.add_done_callback(lambda f: self._release_late(f, cm))
            raise
        try:
            if not acquired:
                log.warning(
                    "token cache: %s lock not obtained within %.0f s; fetching anyway",
                    backend.name,
                    self.lock_wait_s,
                )
            shared = await asyncio.to_thread(self._backend_get, key)
            if shared is not None:
                return shared.token
            return await self._afetch_and_store(key, afetch)
        finally:
            await asyncio.shield(asyncio.to_thread(self._exit_lock, cm))

    def _release_late(self, fut: asyncio.Future[bool], cm: AbstractContextManager[bool]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            threading.Thread(target=self._exit_lock, args=(cm,), daemon=True).start()

    async def _afetch_and_store(
        self, key: str, afetch: Callable[[Token | None], Awaitable[Token]]
    ) -> Token:
        token = await afetch(self._previous.get(key))
        if self._usable_backend() is None:
            self._remember(key, token)
        else:
            await asyncio.to_thread(self._store, key, token)
        return token

    def _async_lock(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._locks_guard:
            locks = self._async_locks.get(loop)
            if locks is None:
                locks = self._async_locks[loop] = {}
            lock = locks.get(key)
            if lock is None:
                lock = locks[key] = asyncio.Lock()
            return lock

    # ------------------------------------------------------------------ shared state

    def _thread_lock(self, key: str) -> threading.Lock:
        lock = self._thread_locks.get(key)
        if lock is None:
            with self._locks_guard:
                lock = self._thread_locks.setdefault(key, threading.Lock())
        return lock

    def _usable_backend(self) -> CacheBackend | None:
        if self.backend is None:
            return None
        if self._degraded and self._clock() < self._backend_down_until:
            return None
        return self.backend

    def _mark_down(self, exc: CacheError) -> None:
        assert self.backend is not None
        with self._state_guard:
            self._backend_down_until = self._clock() + self.backend_retry_s
            first = not self._degraded
            self._degraded = True
        if first:
            log.warning(
                "token cache: %s backend unavailable (%s); using the in-process memory "
                "level only and retrying the backend every %.0f s",
                self.backend.name,
                exc,
                self.backend_retry_s,
            )

    def _mark_up(self) -> None:
        if self._degraded:
            with self._state_guard:
                was = self._degraded
                self._degraded = False
            if was and self.backend is not None:
                log.info("token cache: %s backend is back; sharing tokens again", self.backend.name)


async def _acquire_thread_lock(lock: threading.Lock, wait_s: float) -> bool:
    """Take a thread lock from a coroutine by polling, so the event loop keeps running."""
    if lock.acquire(blocking=False):
        return True
    deadline = time.monotonic() + wait_s
    delay = 0.001
    while time.monotonic() < deadline:
        await asyncio.sleep(delay)
        if lock.acquire(blocking=False):
            return True
        delay = min(delay * 2, 0.05)
    log.warning(
        "token cache: waited %.0f s for the in-process lock of a key; fetching anyway", wait_s
    )
    return False


_default: TokenCache | None = None
_default_guard = threading.Lock()


def default_cache() -> TokenCache:
    """The process-wide memory-only cache used when a provider is given none."""
    global _default
    if _default is None:
        with _default_guard:
            if _default is None:
                _default = TokenCache()
    return _default
