"""The token cache: a memory level in front of an optional shared store and lock, single flight.

Reading path of :meth:`TokenCache.get_or_fetch` (the async twin is the same)::

    memory hit, not due for refresh ─────────────────────────────► token   (hot path)
    per-key thread lock (asyncio: per-loop per-key lock, then the thread lock)
      memory again (another thread may have refreshed)  ─────────► token
      store get  (fresh for this process)               ─────────► token
      lock.lock(key)   (file lock / Redis SET NX PX / Vault CAS lease / ...)
        store get again (double-checked)                ─────────► token
        fetch(previous) ; store set ; memory set        ─────────► token

A store or lock that raises :class:`~vendorgate.CacheError` makes the cache skip the
shared level for ``timing.backend_retry_s`` seconds with one WARNING; the memory level
keeps working. A refresh that fails while the current token is still usable serves that
token with one WARNING and tries again after ``timing.refresh_retry_s`` (jittered), not
on every call. While the fetcher holds a lock that ``renews``, a heartbeat thread renews
it every ``timing.lock_ttl_s / 3``. After ``fork()`` the child gets fresh in-process locks.

Clocks: expiry is judged on this process's clock by
:meth:`Token.expires_at_for <vendorgate.tokens.Token.expires_at_for>`. A token carrying the
vendor's issue time and stated lifetime (``vendor_issued_at``, ``expires_in_s``; the
:class:`~vendorgate.tokens.TokenProvider` stamps them from the JWT's ``iat``) expires at
``vendor_issued_at + expires_in_s + offset``, where ``offset`` is how far this process's
clock is ahead of the vendor's, learned from the last token this cache fetched itself for
the key. Before this process has fetched, the earlier of the fetching worker's expiry and
the vendor-clock expiry counts, so a worker whose clock is minutes ahead does not make
correct workers keep tokens the vendor considers expired. Limit: opaque tokens (no
``iat``) are judged by the fetching worker's clock, as before.

Invalidation and stores without atomic delete: a store whose ``atomic_delete`` is
``False`` could delete a token that another worker stored between its compare and its
delete. The cache therefore calls such a store's ``delete_if`` only while it holds the
key's refresh lock (the lock every fetcher holds while it stores); without a lock, or
when the lock is not obtained in time, it deletes nothing and instead remembers the
refused token's fingerprint, so this process treats that stored token as a miss and the
next fetch overwrites it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vendorgate import events
from vendorgate._errors import CacheError, ConfigurationError
from vendorgate._secret import redact_text
from vendorgate.cache._base import RefreshLock, TokenStore
from vendorgate.cache._policy import RefreshPolicy
from vendorgate.cache._timing import CacheTiming

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractContextManager

    from vendorgate._token import Token

__all__ = ["TokenCache", "default_cache"]

log = logging.getLogger("vendorgate.cache")

#: Keyword arguments of TokenCache before the store/lock split -> where they went.
_MOVED = {
    **{
        name: "policy"
        for name in (
            "refresh_ratio",
            "min_margin_s",
            "jitter_ratio",
            "max_jitter_s",
            "clock_skew_s",
        )
    },
    **{
        name: "timing"
        for name in ("lock_ttl_s", "lock_wait_s", "backend_retry_s", "refresh_retry_s")
    },
}


@dataclass(frozen=True)
class _Entry:
    token: Token
    refresh_at: float  # from here on, the token is replaced (jitter included)
    usable_until: float  # until here, it may still be served while another worker refreshes


class TokenCache:
    """A token cache with proactive refresh and single-flight fetching.

    An in-process memory level always sits in front. ``store`` shares tokens across
    processes and hosts (a directory, Redis, Vault KV, an orchestrator's key-value
    store); ``lock`` makes one worker the fetcher (``flock``, Redis, a Vault lease, an
    orchestrator's concurrency limit). Any store pairs with any lock; an object that is
    both (:class:`~vendorgate.cache.FileBackend`, ``RedisBackend``, ``VaultKVBackend``)
    given as ``store`` alone serves as the lock too.

    Args:
        store: Shared token store, or ``None`` for a per-process cache.
        lock: Cross-process refresh lock. Defaults to ``store`` when the store is also a
            :class:`RefreshLock`; otherwise ``None``: then only the threads and tasks of
            one process share a fetch (each process fetches its own token once and the
            store shares it).
        policy: When a token is replaced (:class:`RefreshPolicy`; default: its defaults).
        timing: Lock TTL, lock wait and back-off times (:class:`CacheTiming`).
        store_refresh_tokens: Whether refresh and id tokens go to the shared store.
            With ``False`` they stay in this process's memory level only (the store then
            holds access tokens alone).
        clock: Returns the current epoch time (tests inject a fake one).
        rng: Random source of the jitter (tests inject a seeded one).

    Raises:
        ConfigurationError: a lock without a store, or a knob given the way it was
            before the split (``refresh_ratio=`` belongs in ``policy=``, ``lock_ttl_s=``
            in ``timing=``; the error names the field).

    Example:
        >>> from vendorgate.cache import CacheTiming, RefreshPolicy, TokenCache
        >>> from vendorgate.tokens import Token
        >>> cache = TokenCache(policy=RefreshPolicy(min_margin_s=0.5), timing=CacheTiming())
        >>> def fetch(previous):
        ...     return Token("abc", expires_at=time.time() + 3600, issued_at=time.time())
        >>> cache.get_or_fetch("demo", fetch).token_type
        'Bearer'
    """

    def __init__(
        self,
        store: TokenStore | None = None,
        lock: RefreshLock | None = None,
        *,
        policy: RefreshPolicy | None = None,
        timing: CacheTiming | None = None,
        store_refresh_tokens: bool = True,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        **moved: object,
    ) -> None:
        for name in moved:
            where = _MOVED.get(name)
            if where is None:
                raise TypeError(f"TokenCache() got an unexpected keyword argument {name!r}")
            cls = "RefreshPolicy" if where == "policy" else "CacheTiming"
            raise ConfigurationError(
                f"is no longer an argument of TokenCache; pass {where}={cls}({name}=...)",
                field=name,
            )
        if store is not None and not isinstance(store, TokenStore):
            raise ConfigurationError(
                f"must be a TokenStore (or None), got {type(store).__name__}", field="store"
            )
        both: object = store
        if lock is None and isinstance(both, RefreshLock):
            lock = both
        if lock is not None and not isinstance(lock, RefreshLock):
            raise ConfigurationError(
                f"must be a RefreshLock (or None), got {type(lock).__name__}", field="lock"
            )
        if lock is not None and store is None:
            raise ConfigurationError(
                "a refresh lock without a shared store shares no token; give store= too",
                field="lock",
            )
        if policy is not None and not isinstance(policy, RefreshPolicy):
            raise ConfigurationError("must be a RefreshPolicy", field="policy")
        if timing is not None and not isinstance(timing, CacheTiming):
            raise ConfigurationError("must be a CacheTiming", field="timing")
        self.store = store
        self.lock = lock
        self.policy = policy or RefreshPolicy()
        self.timing = timing or CacheTiming()
        self.store_refresh_tokens = bool(store_refresh_tokens)
        self._clock = clock
        self._rng = rng or random.Random()
        self._memory: dict[str, _Entry] = {}
        # Last token seen per key, kept after invalidation/expiry so that a refresh
        # grant can use its refresh token.
        self._previous: dict[str, Token] = {}
        # Fingerprint of the last token refused per key that may still sit in a store
        # (it could not be deleted safely): read from the store, it counts as a miss.
        self._refused: dict[str, str] = {}
        # How far this process's clock is ahead of the vendor's, per key, learned from
        # the tokens this cache fetched itself.
        self._offsets: dict[str, float] = {}
        self._thread_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self._backend_down_until = 0.0
        self._degraded = False
        # Guards writes of the memory level and the degradation state (reads need none).
        self._state_guard = threading.Lock()
        _LIVE.add(self)

    @property
    def backend(self) -> TokenStore | None:
        """The shared store (the name before the store/lock split)."""
        return self.store

    def _reset_after_fork(self) -> None:
        """In a forked child: locks held by the parent's other threads would never be freed."""
        self._thread_locks = {}
        self._locks_guard = threading.Lock()
        self._async_locks = weakref.WeakKeyDictionary()
        self._state_guard = threading.Lock()

    def __repr__(self) -> str:
        if self.store is None:
            return f"TokenCache(memory only, keys={len(self._memory)})"
        lock = self.lock.name if self.lock is not None else None
        return f"TokenCache(store={self.store.name!r}, lock={lock!r}, keys={len(self._memory)})"

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
            if events.listening():
                events.emit(events.CacheHit(key, "memory"))
            return entry.token
        lock = self._thread_lock(key)
        if entry is not None and now < entry.usable_until:
            if not lock.acquire(blocking=False):
                # Another thread is refreshing and this token is still good: do not wait.
                return entry.token
        elif not lock.acquire(timeout=self.timing.lock_wait_s):
            log.warning(
                "token cache: waited %.0f s for the in-process lock of a key; re-reading "
                "the cache before fetching",
                self.timing.lock_wait_s,
            )
            # Not holding the thread lock: the shared level and its lock still single-flight.
            return self._locked_get_or_fetch(key, fetch)
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
            if events.listening():
                events.emit(events.CacheHit(key, "memory"))
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
            acquired = await _acquire_thread_lock(lock, self.timing.lock_wait_s)
            try:
                return await self._alocked_get_or_fetch(key, afetch)
            finally:
                if acquired:
                    lock.release()

    def invalidate(self, key: str, token: Token) -> bool:
        """Forget ``token`` in every level, but only where it is still the stored one.

        Call it when the API answered the dialect's "token no longer good" status. A newer
        token stored meanwhile by another worker is left alone (compare-before-delete).
        With a store whose delete is not atomic, the store's entry is deleted only while
        this cache holds the key's refresh lock (waiting up to ``timing.lock_wait_s``
        for a fetcher to finish); without the lock it stays and is treated as a miss.

        Args:
            key: Cache key.
            token: The token the API refused.

        Returns:
            Whether the token was removed from at least one level.
        """
        removed = self._invalidate_memory(key, token)
        store = self._usable_store()
        if store is not None:
            try:
                deleted = self._delete_shared(store, key, token)
            except CacheError as exc:
                self._mark_down(exc)
            else:
                if deleted is not None:
                    removed = deleted or removed
                    self._mark_up()  # a write succeeded
        if removed:
            log.info("token cache: invalidated token %s", token.fingerprint)
        return removed

    def _delete_shared(self, store: TokenStore, key: str, token: Token) -> bool | None:
        """Compare-and-delete in the store without ever deleting a token stored meanwhile.

        Returns whether the store deleted the token, or ``None`` when it was not asked
        (a store without atomic delete, and no lock to serialise the delete with).
        """
        if store.atomic_delete:
            return store.delete_if(key, token.fingerprint)
        with self._state_guard:
            self._refused[key] = token.fingerprint
        lock = self.lock
        if lock is None:
            # No lock serialises our delete with other workers' writes: delete nothing;
            # the refused entry is a miss here and the next fetch overwrites it.
            return None
        timing = self.timing
        cm = lock.lock(key, ttl_s=timing.lock_ttl_s, wait_s=timing.lock_wait_s)
        acquired = cm.__enter__()
        try:
            if not acquired:
                log.warning(
                    "token cache: %s lock not obtained within %.0f s to invalidate token %s; "
                    "leaving the %s entry to be overwritten by the next fetch",
                    lock.name,
                    timing.lock_wait_s,
                    token.fingerprint,
                    store.name,
                )
                return None
            # Every fetcher stores while holding this lock: no write interleaves here.
            return store.delete_if(key, token.fingerprint)
        finally:
            cm.__exit__(None, None, None)

    async def ainvalidate(self, key: str, token: Token) -> bool:
        """Async :meth:`invalidate` (store and lock I/O run in a worker thread)."""
        if self.store is None:
            return self._invalidate_memory(key, token)
        return await asyncio.to_thread(self.invalidate, key, token)

    def peek(self, key: str) -> Token | None:
        """The token held in memory for ``key`` (due for refresh or not), or ``None``."""
        entry = self._memory.get(key)
        return entry.token if entry is not None else None

    def clear(self) -> None:
        """Drop the memory level (the shared store is untouched)."""
        with self._state_guard:
            self._memory.clear()
            self._previous.clear()
            self._refused.clear()

    def close(self) -> None:
        """Close the store's and the lock's connections (once when they are one object)."""
        if self.store is not None:
            self.store.close()
        if self.lock is not None and self.lock is not self.store:  # type: ignore[comparison-overlap]
            self.lock.close()

    @property
    def degraded(self) -> bool:
        """Whether the store or lock failed and the store has not accepted a write since."""
        return self._degraded

    # ------------------------------------------------------------------ sync internals

    def _locked_get_or_fetch(self, key: str, fetch: Callable[[Token | None], Token]) -> Token:
        entry = self._memory.get(key)
        if entry is not None and self._clock() < entry.refresh_at:
            return entry.token
        shared = self._backend_get(key)
        if shared is not None:
            return shared.token
        lock = self._usable_lock()
        if lock is None:
            return self._fetch_and_store(key, fetch, self._previous.get(key))
        try:
            cm = lock.lock(key, ttl_s=self.timing.lock_ttl_s, wait_s=self.timing.lock_wait_s)
            acquired = cm.__enter__()
        except CacheError as exc:
            self._mark_down(exc, lock.name)
            return self._fetch_and_store(key, fetch, self._previous.get(key))
        heartbeat = _Heartbeat(lock, key, self.timing.lock_ttl_s) if acquired else None
        try:
            if not acquired:
                log.warning(
                    "token cache: %s lock not obtained within %.0f s; fetching anyway",
                    lock.name,
                    self.timing.lock_wait_s,
                )
            shared = self._backend_get(key)
            if shared is not None:
                return shared.token
            if heartbeat is not None:
                heartbeat.start()
            return self._fetch_and_store(key, fetch, self._previous.get(key))
        finally:
            self._exit_lock(cm, heartbeat, lock.name)

    def _fetch_and_store(
        self, key: str, fetch: Callable[[Token | None], Token], previous: Token | None
    ) -> Token:
        if events.listening():
            events.emit(events.CacheMiss(key))
        try:
            token = fetch(previous)
        except Exception as exc:
            current = self._serve_current_after_failure(key, exc)
            if current is None:
                raise
            return current
        self._fetched(key, token)
        return self._store(key, token)

    def _fetched(self, key: str, token: Token) -> None:
        """A fetch succeeded: learn this process's clock offset to the vendor, and tell."""
        offset = token.clock_offset_s
        if offset is not None:
            with self._state_guard:
                self._offsets[key] = offset
        log.info(
            "token cache: fetched a new token %s (valid %.0f s)%s",
            token.fingerprint,
            token.lifetime_s,
            "" if self.store is None else f"; sharing it through the {self.store.name} store",
        )
        if events.listening():
            events.emit(events.TokenFetched(key, token.fingerprint, token.lifetime_s))

    def _localise(self, key: str, token: Token) -> Token:
        """``token`` with ``expires_at``/``issued_at`` on this process's clock."""
        expires_at = token.expires_at_for(self._offsets.get(key))
        if expires_at == token.expires_at:
            return token
        shift = expires_at - token.expires_at
        return dataclasses.replace(token, expires_at=expires_at, issued_at=token.issued_at + shift)

    def _serve_current_after_failure(self, key: str, exc: Exception) -> Token | None:
        """A refresh failed: keep serving the current token while it is usable.

        Pushes the entry's refresh moment back by a jittered ``refresh_retry_s`` (bounded
        by its usable time), so the next attempt waits instead of every call hitting a
        failing token endpoint. Returns ``None`` when no usable token is left.
        """
        now = self._clock()
        with self._state_guard:
            entry = self._memory.get(key)
            if entry is None or now >= entry.usable_until:
                return None
            delay = self.timing.refresh_retry_s * self._rng.uniform(0.5, 1.0)
            retry_at = min(now + delay, entry.usable_until)
            self._memory[key] = _Entry(entry.token, retry_at, entry.usable_until)
        log.warning(
            "token cache: refreshing token %s failed (%s: %s); serving it while it is "
            "valid (%.0f s left) and trying again in %.1f s",
            entry.token.fingerprint,
            type(exc).__name__,
            redact_text(str(exc), limit=200),
            entry.token.expires_at - now,
            retry_at - now,
        )
        return entry.token

    def _store(self, key: str, token: Token) -> Token:
        """Keep a fetched token in memory and the store; the token as served here."""
        served = self._remember(key, token).token
        store = self._usable_store()
        if store is None:
            return served
        shared = token
        if not self.store_refresh_tokens and (token.refresh_token or token.id_token):
            shared = dataclasses.replace(token, refresh_token=None, id_token=None)
        try:
            store.set(key, shared)
        except CacheError as exc:
            self._mark_down(exc)
        else:
            self._mark_up()  # a write succeeded
        return served

    def _remember(self, key: str, token: Token) -> _Entry:
        entry = self._entry(key, token)
        with self._state_guard:
            self._memory[key] = entry
            self._previous[key] = entry.token
        return entry

    def _entry(self, key: str, token: Token) -> _Entry:
        token = self._localise(key, token)
        return _Entry(
            token, self.policy.refresh_at(token, self._rng), self.policy.usable_until(token)
        )

    def _backend_get(self, key: str) -> _Entry | None:
        """Read the shared store; return an entry only when fresh for this process."""
        store = self._usable_store()
        if store is None:
            return None
        try:
            token = store.get(key)
        except CacheError as exc:
            self._mark_down(exc)
            return None
        # A read alone does not end the degradation: a store that reads but cannot
        # lock or write would otherwise log "unavailable" and "back" alternately.
        if token is None or token.fingerprint == self._refused.get(key):
            return None
        entry = self._entry(key, token)
        token = entry.token
        with self._state_guard:
            current = self._memory.get(key)
            if current is not None and current.token.fingerprint == token.fingerprint:
                # Same token as in memory: keep the memory copy (it may hold a refresh
                # token the shared level does not) and its drawn jitter. It is fresh when
                # another thread of this process stored it meanwhile.
                self._previous[key] = current.token
                return current if self._clock() < current.refresh_at else None
            self._previous[key] = token
            if current is None or token.expires_at > current.token.expires_at:
                # Also when due: it is then served while usable if a refresh fails.
                self._memory[key] = entry
        if self._clock() < entry.refresh_at:
            if events.listening():
                events.emit(events.CacheHit(key, "store"))
            return entry
        return None

    def _invalidate_memory(self, key: str, token: Token) -> bool:
        with self._state_guard:  # compare and pop together: never pop a newer token
            entry = self._memory.get(key)
            if entry is None or entry.token.fingerprint != token.fingerprint:
                return False
            del self._memory[key]
            self._previous[key] = token
            return True

    def _exit_lock(
        self,
        cm: AbstractContextManager[bool],
        heartbeat: _Heartbeat | None = None,
        name: str | None = None,
    ) -> None:
        if heartbeat is not None:
            heartbeat.stop()  # before the release: a late renewal must not outlive it
        try:
            cm.__exit__(None, None, None)
        except CacheError as exc:
            self._mark_down(exc, name)

    # ------------------------------------------------------------------ async internals

    async def _alocked_get_or_fetch(
        self, key: str, afetch: Callable[[Token | None], Awaitable[Token]]
    ) -> Token:
        entry = self._memory.get(key)
        if entry is not None and self._clock() < entry.refresh_at:
            return entry.token
        if self._usable_store() is None:
            return await self._afetch_and_store(key, afetch)
        shared = await asyncio.to_thread(self._backend_get, key)
        if shared is not None:
            return shared.token
        lock = self._usable_lock()
        if lock is None:
            return await self._afetch_and_store(key, afetch)
        try:
            cm = lock.lock(key, ttl_s=self.timing.lock_ttl_s, wait_s=self.timing.lock_wait_s)
        except CacheError as exc:
            self._mark_down(exc, lock.name)
            return await self._afetch_and_store(key, afetch)
        enter = asyncio.ensure_future(asyncio.to_thread(cm.__enter__))
        try:
            acquired = await asyncio.shield(enter)
        except CacheError as exc:
            self._mark_down(exc, lock.name)
            return await self._afetch_and_store(key, afetch)
        except asyncio.CancelledError:
            # The thread may still obtain the lock: release it when it does.
            enter.add_done_callback(lambda f: self._release_late(f, cm))
            raise
        heartbeat = _Heartbeat(lock, key, self.timing.lock_ttl_s) if acquired else None
        try:
            if not acquired:
                log.warning(
                    "token cache: %s lock not obtained within %.0f s; fetching anyway",
                    lock.name,
                    self.timing.lock_wait_s,
                )
            shared = await asyncio.to_thread(self._backend_get, key)
            if shared is not None:
                return shared.token
            if heartbeat is not None:
                heartbeat.start()
            return await self._afetch_and_store(key, afetch)
        finally:
            await asyncio.shield(asyncio.to_thread(self._exit_lock, cm, heartbeat, lock.name))

    def _release_late(self, fut: asyncio.Future[bool], cm: AbstractContextManager[bool]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            threading.Thread(target=self._exit_lock, args=(cm,), daemon=True).start()

    async def _afetch_and_store(
        self, key: str, afetch: Callable[[Token | None], Awaitable[Token]]
    ) -> Token:
        if events.listening():
            events.emit(events.CacheMiss(key))
        try:
            token = await afetch(self._previous.get(key))
        except Exception as exc:
            current = self._serve_current_after_failure(key, exc)
            if current is None:
                raise
            return current
        self._fetched(key, token)
        if self._usable_store() is None:
            return self._remember(key, token).token
        return await asyncio.to_thread(self._store, key, token)

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

    def _usable_store(self) -> TokenStore | None:
        if self.store is None:
            return None
        if self._degraded and self._clock() < self._backend_down_until:
            return None
        return self.store

    def _usable_lock(self) -> RefreshLock | None:
        if self.lock is None or self._usable_store() is None:
            return None
        return self.lock

    def _mark_down(self, exc: CacheError, name: str | None = None) -> None:
        """The store or the lock failed: use the memory level only for a while."""
        assert self.store is not None
        with self._state_guard:
            self._backend_down_until = self._clock() + self.timing.backend_retry_s
            first = not self._degraded
            self._degraded = True
        if first:
            log.warning(
                "token cache: %s backend unavailable (%s); using the in-process memory "
                "level only and retrying the backend every %.0f s",
                name or self.store.name,
                exc,
                self.timing.backend_retry_s,
            )

    def _mark_up(self) -> None:
        """The store accepted a write: it works again (reads alone do not prove it)."""
        if self._degraded:
            with self._state_guard:
                was = self._degraded
                self._degraded = False
            if was and self.store is not None:
                log.info("token cache: %s backend is back; sharing tokens again", self.store.name)


class _Heartbeat:
    """Renews a held refresh lock every ``ttl_s / 3`` while the holder fetches.

    Starts no thread for locks that do not declare ``renews`` (those freed by their
    holder's death, like ``flock`` and in-process locks).
    """

    def __init__(self, lock: RefreshLock, key: str, ttl_s: float) -> None:
        self.lock = lock
        self.key = key
        self.ttl_s = ttl_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.lock.renews:
            return
        self._thread = threading.Thread(
            target=self._run, name="vendorgate-lock-heartbeat", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                still_ours = self.lock.renew(self.key, ttl_s=self.ttl_s)
            except CacheError as exc:
                log.debug("token cache: renewing the %s lock failed (%s)", self.lock.name, exc)
                continue
            if not still_ours:
                log.warning(
                    "token cache: the %s lock of a key lapsed while its token was being "
                    "fetched; another worker may fetch too (raise timing.lock_ttl_s?)",
                    self.lock.name,
                )
                return


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

# Every live cache, so that a forked child can replace the locks it inherited.
_LIVE: weakref.WeakSet[TokenCache] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _default_guard
    _default_guard = threading.Lock()
    for cache in list(_LIVE):
        cache._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def default_cache() -> TokenCache:
    """The process-wide memory-only cache used when a provider is given none."""
    global _default
    if _default is None:
        with _default_guard:
            if _default is None:
                _default = TokenCache()
    return _default
