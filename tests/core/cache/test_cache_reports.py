"""What the token cache tells and hands back around its main path: its repr, the WARNING
lines of a failed refresh and of a failing store (compared whole), the async invalidation
through a store, closing a store and a separate lock, the process-wide default cache, and
a lock obtained by a cancelled task being released."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

import pytest
from cache_helpers import CountingFetch, FakeClock, NonAtomicStore, make_token

import vendorgate.cache._cache as cache_module
from vendorgate import CacheError, events
from vendorgate.cache import (
    CacheTiming,
    MemoryLock,
    MemoryStore,
    RefreshLock,
    RefreshPolicy,
    TokenCache,
    default_cache,
)
from vendorgate.tokens import Token

_EXACT = RefreshPolicy(min_margin_s=0.0, clock_skew_s=0.0, jitter_ratio=0.0)


class _LowRandom(random.Random):
    """Draws the low end of every range: the jittered retry is exactly half its period."""

    def uniform(self, a: float, b: float) -> float:
        return a


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "vendorgate.cache" and r.levelno == logging.WARNING
    ]


def test_repr_tells_the_kind_of_cache_and_how_many_keys() -> None:
    """Memory only, a store without a lock, a store with its lock: named, counted, no token."""
    memory_only = TokenCache()
    memory_only.get_or_fetch("k", lambda previous: make_token(1e10))
    assert repr(memory_only) == "TokenCache(memory only, keys=1)"
    assert repr(TokenCache(MemoryStore())) == "TokenCache(store='memory', lock=None, keys=0)"
    assert repr(TokenCache(MemoryStore(), MemoryLock())) == (
        "TokenCache(store='memory', lock='memory', keys=0)"
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_refresh_warning_says_what_failed_how_long_is_left_and_when_next(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    """The one WARNING line, whole: token fingerprint, error type and (masked, cut) text,
    seconds left, seconds to the next attempt."""
    cache = TokenCache(
        clock=clock, policy=_EXACT, timing=CacheTiming(refresh_retry_s=6.0), rng=_LowRandom()
    )
    old = cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(92)  # due at 90 s; usable until 95 s; valid until 100 s
    detail = "Bearer abc.def-secret " + "x" * 300

    def failing(previous: Token | None) -> Token:
        raise RuntimeError(f"token endpoint answered 503: {detail}")

    async def afailing(previous: Token | None) -> Token:
        return failing(previous)

    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        if mode == "sync":
            served = cache.get_or_fetch("k", failing)
        else:
            served = asyncio.run(cache.aget_or_fetch("k", afailing))
    assert served is old
    shown = ("token endpoint answered 503: Bearer ********** " + "x" * 300)[:200] + "…"
    assert _warnings(caplog) == [
        f"token cache: refreshing token {old.fingerprint} failed (RuntimeError: {shown}); "
        "serving it while it is valid (8 s left) and trying again in 3.0 s"
    ]


class _BrokenStore(MemoryStore):
    """A store whose server went away."""

    name = "broken"

    def get(self, key: str) -> Token | None:
        raise CacheError("the broken store's server is gone")


def test_a_failing_store_warning_names_it_the_error_and_the_retry_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One WARNING line, whole: which store, why, and how often it is tried again."""
    cache = TokenCache(_BrokenStore(), timing=CacheTiming(backend_retry_s=45))
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        cache.get_or_fetch("k", lambda previous: make_token(1e10))
    assert _warnings(caplog) == [
        "token cache: broken backend unavailable (the broken store's server is gone); using "
        "the in-process memory level only and retrying the backend every 45 s"
    ]


@pytest.mark.anyio
async def test_async_invalidation_deletes_from_the_store_only_the_refused_token() -> None:
    """Through a store: another token is kept (False); the refused one leaves every level."""
    store = MemoryStore()
    cache = TokenCache(store)

    async def afetch(previous: Token | None) -> Token:
        return make_token(1e10 - 600, 600)

    token = await cache.aget_or_fetch("k", afetch)
    assert await cache.ainvalidate("k", make_token(1e10 - 600, 600)) is False
    assert store.get("k") == token
    assert await cache.ainvalidate("k", token) is True
    assert store.get("k") is None
    assert cache.peek("k") is None


class _ClosingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class _ClosingLock(MemoryLock):
    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_close_closes_a_separate_store_and_lock_once_each() -> None:
    """A store paired with a lock of its own: both connections are closed, once."""
    store, lock = _ClosingStore(), _ClosingLock()
    TokenCache(store, lock).close()
    assert (store.closed, lock.closed) == (1, 1)


def test_the_default_cache_is_made_once_for_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a process that has none yet, the first call makes it and later calls return it."""
    monkeypatch.setattr(cache_module, "_default", None)
    first = default_cache()
    assert isinstance(first, TokenCache)
    assert first.store is None
    assert default_cache() is first


@pytest.mark.anyio
async def test_an_async_fetch_reports_the_key_it_fetched_for() -> None:
    """The TokenFetched event of an async fetch carries the cache key."""
    seen: list[events.Event] = []
    cache = TokenCache()

    async def afetch(previous: Token | None) -> Token:
        return make_token(1e10 - 600, 600)

    with events.listen(seen.append):
        token = await cache.aget_or_fetch("vendor-a:client-1", afetch)
    fetched = [e for e in seen if isinstance(e, events.TokenFetched)]
    assert [(e.key, e.fingerprint) for e in fetched] == [("vendor-a:client-1", token.fingerprint)]


class _GateLock(RefreshLock):
    """A refresh lock obtained only when the test opens the gate; records its release."""

    name = "gate"

    def __init__(self) -> None:
        self.entering = threading.Event()
        self.gate = threading.Event()
        self.released = threading.Event()

    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        owner = self

        class _Held(AbstractContextManager[bool]):
            def __enter__(self) -> bool:
                owner.entering.set()
                return owner.gate.wait(30)

            def __exit__(
                self,
                exc_type: type[BaseException] | None,
                exc: BaseException | None,
                tb: TracebackType | None,
            ) -> None:
                owner.released.set()

        return _Held()


@pytest.fixture
def gate_lock() -> Iterator[_GateLock]:
    lock = _GateLock()
    yield lock
    lock.gate.set()  # never leave a worker thread waiting


@pytest.mark.anyio
async def test_a_lock_obtained_after_its_task_was_cancelled_is_released(
    gate_lock: _GateLock,
) -> None:
    """A task cancelled while its worker thread waits for the lock: once the thread gets the
    lock, it is released (no other worker waits for a lock nobody holds)."""
    cache = TokenCache(MemoryStore(), gate_lock)

    async def afetch(previous: Token | None) -> Token:
        raise AssertionError("a cancelled task fetches nothing")

    task = asyncio.create_task(cache.aget_or_fetch("k", afetch))
    assert await asyncio.to_thread(gate_lock.entering.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not gate_lock.released.is_set()
    gate_lock.gate.set()  # the worker thread obtains the lock now
    assert await asyncio.to_thread(gate_lock.released.wait, 10)


@pytest.mark.anyio
async def test_an_async_memory_hit_lasts_until_the_refresh_instant_and_is_reported(
    clock: FakeClock,
) -> None:
    """Half a second before the refresh moment: a memory hit (reported as one); at it: a fetch."""
    cache = TokenCache(clock=clock, policy=_EXACT)
    fetch = CountingFetch(clock)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    first = await cache.aget_or_fetch("k", afetch)
    seen: list[events.Event] = []
    clock.now = _EXACT.refresh_at(first) - 0.5
    with events.listen(seen.append):
        assert await cache.aget_or_fetch("k", afetch) is first
    assert seen == [events.CacheHit("k", "memory")]
    clock.now = _EXACT.refresh_at(first)
    assert await cache.aget_or_fetch("k", afetch) is not first
    assert fetch.calls == 2


def _in_forked_child(work: Callable[[], object]) -> object:
    """Run ``work`` in a forked child; its result, or ``None`` if it failed or hung."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()

    def child() -> None:
        results.put(work())

    proc = ctx.Process(target=child)
    proc.start()
    try:
        return results.get(timeout=20)
    except queue.Empty:
        return None
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()


def test_a_forked_child_uses_the_async_path_of_an_inherited_cache() -> None:
    """A cache used by the parent's event loop serves a forked child's event loop too."""
    cache = TokenCache()

    async def afetch(previous: Token | None) -> Token:
        return make_token(1e10 - 600, 600)

    parent = asyncio.run(cache.aget_or_fetch("k", afetch))
    cache.clear()

    def child_fetch() -> str:
        return asyncio.run(cache.aget_or_fetch("k", afetch)).fingerprint

    fingerprint = _in_forked_child(child_fetch)
    assert isinstance(fingerprint, str)
    assert fingerprint != parent.fingerprint


def test_a_forked_child_makes_its_default_cache_though_a_parent_thread_was_making_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default cache's guard, held in the parent at the fork, is free in the child."""
    monkeypatch.setattr(cache_module, "_default", None)
    guard = cache_module._default_guard
    with guard:  # a parent thread inside default_cache() at the fork
        made = _in_forked_child(lambda: type(default_cache()).__name__)
    assert made == "TokenCache"


# -- the async path through a shared store and a refresh lock -------------------------------


class _RecordingLock(RefreshLock):
    """A refresh lock that is obtained or not as told, records renewals, may fail to release."""

    name = "recording"
    renews = True

    def __init__(self, *, obtained: bool = True, release_fails: bool = False) -> None:
        self.obtained = obtained
        self.release_fails = release_fails
        self.renewed: list[tuple[str, float]] = []
        self.renewal = threading.Event()

    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        owner = self

        class _Held(AbstractContextManager[bool]):
            def __enter__(self) -> bool:
                return owner.obtained

            def __exit__(
                self,
                exc_type: type[BaseException] | None,
                exc: BaseException | None,
                tb: TracebackType | None,
            ) -> None:
                if owner.release_fails:
                    raise CacheError("the lock server is gone")

        return _Held()

    def renew(self, key: str, *, ttl_s: float) -> bool:
        self.renewed.append((key, ttl_s))
        self.renewal.set()
        return True


def _heartbeats() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vendorgate-lock-heartbeat"]


@pytest.mark.anyio
async def test_an_async_fetch_renews_its_lock_while_it_runs_and_stops_after() -> None:
    """The heartbeat renews the held lock for the key with the lock TTL, and ends with it."""
    lock = _RecordingLock()
    cache = TokenCache(MemoryStore(), lock, timing=CacheTiming(lock_ttl_s=0.03))

    async def afetch(previous: Token | None) -> Token:
        assert await asyncio.to_thread(lock.renewal.wait, 10)
        return make_token(1e10 - 600, 600)

    await cache.aget_or_fetch("k", afetch)
    assert lock.renewed[0] == ("k", 0.03)
    assert _heartbeats() == []


@pytest.mark.anyio
async def test_an_async_fetch_without_the_lock_warns_and_fetches_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lock not obtained in time: one WARNING naming it and the wait; no renewal."""
    lock = _RecordingLock(obtained=False)
    cache = TokenCache(MemoryStore(), lock, timing=CacheTiming(lock_wait_s=7))
    fetch = CountingFetch(lambda: 1e10 - 600, 600)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        await cache.aget_or_fetch("k", afetch)
    assert _warnings(caplog) == [
        "token cache: recording lock not obtained within 7 s; fetching anyway"
    ]
    assert fetch.calls == 1
    assert _heartbeats() == []


class _BrokenLock(_RecordingLock):
    """A lock whose server is gone: taking it fails."""

    name = "broken-lock"

    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        @contextmanager
        def failing() -> Iterator[bool]:
            raise CacheError("the lock server is gone")
            yield True  # type: ignore[unreachable]

        return failing()


class _EagerlyBrokenLock(_RecordingLock):
    """A lock whose server is gone, found out when the lock is asked for (before ``with``)."""

    name = "broken-lock"

    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        raise CacheError("the lock server is gone")


@pytest.mark.anyio
@pytest.mark.parametrize("broken", [_BrokenLock, _EagerlyBrokenLock], ids=["at-enter", "at-lock"])
async def test_an_async_lock_failure_is_named_and_the_token_kept_for_the_key(
    caplog: pytest.LogCaptureFixture, broken: type[RefreshLock]
) -> None:
    """The lock fails (when taken, or already when asked for): the WARNING names the lock;
    the fetched token serves the key after."""
    cache = TokenCache(MemoryStore(), broken(), timing=CacheTiming(backend_retry_s=45))
    fetch = CountingFetch(lambda: 1e10 - 600, 600)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        first = await cache.aget_or_fetch("k", afetch)
        assert await cache.aget_or_fetch("k", afetch) is first
    assert fetch.calls == 1
    assert _warnings(caplog) == [
        "token cache: broken-lock backend unavailable (the lock server is gone); using "
        "the in-process memory level only and retrying the backend every 45 s"
    ]


@pytest.mark.anyio
async def test_an_async_release_failure_is_named_after_the_lock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Releasing the lock fails: the token is served, the WARNING (whole) names the lock
    and why."""
    cache = TokenCache(
        MemoryStore(), _RecordingLock(release_fails=True), timing=CacheTiming(backend_retry_s=45)
    )

    async def afetch(previous: Token | None) -> Token:
        return make_token(1e10 - 600, 600)

    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        await cache.aget_or_fetch("k", afetch)
    assert _warnings(caplog) == [
        "token cache: recording backend unavailable (the lock server is gone); using the "
        "in-process memory level only and retrying the backend every 45 s"
    ]


@pytest.mark.anyio
async def test_a_token_fetched_under_the_lock_serves_the_next_call_from_memory() -> None:
    lock = _RecordingLock()
    store = MemoryStore()
    cache = TokenCache(store, lock)
    fetch = CountingFetch(lambda: 1e10 - 600, 600)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    first = await cache.aget_or_fetch("k", afetch)
    assert store.get("k") == first
    seen: list[events.Event] = []
    with events.listen(seen.append):
        assert await cache.aget_or_fetch("k", afetch) is first
    assert seen == [events.CacheHit("k", "memory")]
    assert fetch.calls == 1


class _WriteFailsStore(MemoryStore):
    """A store that reads, but whose writes find its server gone."""

    name = "write-fails"

    def set(self, key: str, token: Token) -> None:
        raise CacheError("the store's server refused the write")


def test_a_store_that_fails_to_keep_a_fetched_token_is_named_and_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(_WriteFailsStore(), timing=CacheTiming(backend_retry_s=45))
    fetch = CountingFetch(lambda: 1e10 - 600, 600)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        token = cache.get_or_fetch("k", fetch)
        assert cache.get_or_fetch("k", fetch) is token  # served from memory meanwhile
    assert _warnings(caplog) == [
        "token cache: write-fails backend unavailable (the store's server refused the write); "
        "using the in-process memory level only and retrying the backend every 45 s"
    ]
    assert fetch.calls == 1


@pytest.mark.anyio
async def test_a_slow_async_fetch_of_one_key_does_not_hold_up_another_key() -> None:
    """Each key has its own task lock: key a's fetch can wait for key b's to start."""
    cache = TokenCache()
    b_started = asyncio.Event()

    async def fetch_a(previous: Token | None) -> Token:
        await asyncio.wait_for(b_started.wait(), 10)
        return make_token(1e10 - 600, 600)

    async def fetch_b(previous: Token | None) -> Token:
        b_started.set()
        return make_token(1e10 - 600, 600)

    await asyncio.gather(cache.aget_or_fetch("a", fetch_a), cache.aget_or_fetch("b", fetch_b))


@pytest.mark.anyio
async def test_a_task_waiting_for_a_threads_refresh_takes_its_token(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A thread refreshes a key while a task asks for it: the task gets the thread's token,
    and gives the key's in-process lock back (the next refresh does not wait for it)."""
    cache = TokenCache(clock=clock, policy=_EXACT, timing=CacheTiming(lock_wait_s=2))
    in_fetch, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def held(previous: Token | None) -> Token:
        calls.append("thread")
        in_fetch.set()
        release.wait(10)
        return make_token(clock(), 100)

    async def afetch(previous: Token | None) -> Token:
        calls.append("task")
        return make_token(clock(), 100)

    thread = threading.Thread(target=cache.get_or_fetch, args=("k", held))
    thread.start()
    try:
        assert await asyncio.to_thread(in_fetch.wait, 10)
        task = asyncio.create_task(cache.aget_or_fetch("k", afetch))
        for _ in range(5):  # let the task reach the thread lock
            await asyncio.sleep(0.01)
    finally:
        release.set()
        await asyncio.to_thread(thread.join, 10)
    token = await task
    assert token is cache.peek("k")
    assert calls == ["thread"]
    clock.now = _EXACT.refresh_at(token)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        assert await asyncio.to_thread(cache.get_or_fetch, "k", held) is not token
    assert _warnings(caplog) == []


@pytest.mark.anyio
async def test_a_task_that_waited_too_long_for_a_thread_fetches_anyway_and_says_so(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A thread's refresh outlasts lock_wait_s: the task fetches with one WARNING, and leaves
    the thread's lock to the thread; afterwards the key's lock is free for the next refresh."""
    cache = TokenCache(clock=clock, policy=_EXACT, timing=CacheTiming(lock_wait_s=0.6))
    in_fetch, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def held(previous: Token | None) -> Token:
        in_fetch.set()
        release.wait(10)
        return make_token(clock(), 100)

    def thread_main() -> None:
        try:
            cache.get_or_fetch("k", held)
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    async def afetch(previous: Token | None) -> Token:
        return make_token(clock(), 100)

    thread = threading.Thread(target=thread_main)
    thread.start()
    try:
        assert await asyncio.to_thread(in_fetch.wait, 10)
        with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
            await cache.aget_or_fetch("k", afetch)
    finally:
        release.set()
        await asyncio.to_thread(thread.join, 10)
    assert errors == []
    assert _warnings(caplog) == [
        "token cache: waited 1 s for the in-process lock of a key; fetching anyway"
    ]
    caplog.clear()
    clock.advance(95)  # due: the next call refreshes, and finds the key's lock free
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        await cache.aget_or_fetch("k", afetch)
        cache.get_or_fetch("k", lambda previous: make_token(clock(), 100))
    assert _warnings(caplog) == []


# -- invalidation's reports ------------------------------------------------------------------


class _DeleteFailsStore(MemoryStore):
    """A store that stores and reads, but whose delete finds its server gone."""

    name = "delete-fails"

    def delete_if(self, key: str, fingerprint: str) -> bool:
        raise CacheError("the store's server is gone")


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "vendorgate.cache"]


def test_an_invalidation_the_store_fails_names_the_store_and_still_forgets_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store's failure is reported like any other (one WARNING, whole); the refused
    token leaves the memory level, so the next call fetches a new one."""
    cache = TokenCache(_DeleteFailsStore(), timing=CacheTiming(backend_retry_s=45))
    fetch = CountingFetch(lambda: 1e10 - 600, 600)
    token = cache.get_or_fetch("k", fetch)
    caplog.clear()  # the fetch's own INFO line, when an earlier test left INFO on
    with caplog.at_level(logging.INFO, logger="vendorgate.cache"):
        assert cache.invalidate("k", token) is True
    assert _lines(caplog) == [
        (
            logging.WARNING,
            "token cache: delete-fails backend unavailable (the store's server is gone); "
            "using the in-process memory level only and retrying the backend every 45 s",
        ),
        (logging.INFO, f"token cache: invalidated token {token.fingerprint}"),
    ]
    assert cache.get_or_fetch("k", fetch) != token
    assert fetch.calls == 2


def test_an_invalidation_that_removes_nothing_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(MemoryStore())
    cache.get_or_fetch("k", lambda previous: make_token(1e10 - 600, 600))
    caplog.clear()  # the fetch's own INFO line, when an earlier test left INFO on
    with caplog.at_level(logging.DEBUG, logger="vendorgate.cache"):
        assert cache.invalidate("k", make_token(1e10 - 600, 600)) is False
    assert _lines(caplog) == []


def test_an_invalidation_without_the_lock_of_a_non_atomic_store_says_what_it_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lock stays busy: one WARNING, whole (lock, wait, token, store); the store's entry
    is left (a miss for this cache); the token leaves memory."""
    store = NonAtomicStore()
    cache = TokenCache(store, _RecordingLock(obtained=False), timing=CacheTiming(lock_wait_s=7))
    token = cache.get_or_fetch("k", lambda previous: make_token(1e10 - 600, 600))
    assert store.entries["k"] == token  # stored, though without the lock
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="vendorgate.cache"):
        assert cache.invalidate("k", token) is True
    assert _lines(caplog) == [
        (
            logging.WARNING,
            f"token cache: recording lock not obtained within 7 s to invalidate token "
            f"{token.fingerprint}; leaving the non-atomic entry to be overwritten by the next "
            "fetch",
        ),
        (logging.INFO, f"token cache: invalidated token {token.fingerprint}"),
    ]
    assert store.deletes == 0
    assert store.entries["k"] == token


def test_an_invalidation_reports_a_token_removed_from_either_level_alone() -> None:
    """``True`` when the token left any level: the store alone (a worker that never held
    it in memory), or memory alone (the store holds a newer token from another worker)."""
    store = MemoryStore()
    first = TokenCache(store)
    token = first.get_or_fetch("k", lambda previous: make_token(1e10 - 600, 600))
    other_worker = TokenCache(store)
    assert other_worker.invalidate("k", token) is True  # from the store only
    assert store.get("k") is None
    newer = other_worker.get_or_fetch("k", lambda previous: make_token(1e10 - 600, 600))
    assert first.invalidate("k", token) is True  # from memory only; the newer one stays
    assert store.get("k") == newer


@pytest.mark.anyio
async def test_a_task_asking_at_the_usable_instant_waits_for_the_refresh(clock: FakeClock) -> None:
    """While another task refreshes, a token is served up to, not at, its usable limit:
    at that instant the caller waits and gets the refreshed token."""
    cache = TokenCache(clock=clock, policy=_EXACT)
    old = await cache.aget_or_fetch("k", _afetch_at(clock))
    in_fetch, release = asyncio.Event(), asyncio.Event()

    async def slow(previous: Token | None) -> Token:
        in_fetch.set()
        await release.wait()
        return make_token(clock(), 100)

    clock.now = _EXACT.refresh_at(old)
    refresher = asyncio.create_task(cache.aget_or_fetch("k", slow))
    await asyncio.wait_for(in_fetch.wait(), 10)
    clock.now = _EXACT.usable_until(old) - 0.001
    assert await cache.aget_or_fetch("k", _afetch_at(clock)) is old  # still usable: at once
    clock.now = _EXACT.usable_until(old)
    waiter = asyncio.create_task(cache.aget_or_fetch("k", _afetch_at(clock)))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    release.set()
    new = await refresher
    assert new is not old
    assert await waiter is new


def _afetch_at(clock: FakeClock) -> Callable[[Token | None], Any]:
    async def afetch(previous: Token | None) -> Token:
        return make_token(clock(), 100)

    return afetch


@pytest.mark.anyio
async def test_after_an_async_refresh_the_next_one_does_not_wait_for_the_thread_lock(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Each async refresh gives the key's in-process lock back: the next refresh takes it
    at once (no "waited" WARNING)."""
    cache = TokenCache(clock=clock, policy=_EXACT, timing=CacheTiming(lock_wait_s=0.2))
    first = await cache.aget_or_fetch("k", _afetch_at(clock))
    clock.now = _EXACT.refresh_at(first)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        second = await cache.aget_or_fetch("k", _afetch_at(clock))
        clock.now = _EXACT.refresh_at(second)
        third = await asyncio.to_thread(
            cache.get_or_fetch, "k", lambda previous: make_token(clock(), 100)
        )
    assert len({first, second, third}) == 3
    assert _warnings(caplog) == []


@pytest.mark.anyio
async def test_a_lock_not_obtained_is_not_renewed_while_the_task_fetches() -> None:
    """Renewing a lock this worker does not hold would extend another worker's."""
    lock = _RecordingLock(obtained=False)
    cache = TokenCache(MemoryStore(), lock, timing=CacheTiming(lock_ttl_s=0.003))

    async def afetch(previous: Token | None) -> Token:
        await asyncio.to_thread(lock.renewal.wait, 0.3)  # a renewal would end this at once
        return make_token(1e10 - 600, 600)

    await cache.aget_or_fetch("k", afetch)
    assert lock.renewed == []


def test_a_lock_not_obtained_is_not_renewed_while_the_thread_fetches() -> None:
    lock = _RecordingLock(obtained=False)
    cache = TokenCache(MemoryStore(), lock, timing=CacheTiming(lock_ttl_s=0.003))

    def fetch(previous: Token | None) -> Token:
        lock.renewal.wait(0.3)  # a renewal would end this at once
        return make_token(1e10 - 600, 600)

    cache.get_or_fetch("k", fetch)
    assert lock.renewed == []


def test_a_thread_that_waited_too_long_for_the_refresh_says_so_whole(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Another thread's refresh outlasts lock_wait_s: one WARNING, whole, then this thread
    re-reads the cache itself."""
    cache = TokenCache(clock=clock, policy=_EXACT, timing=CacheTiming(lock_wait_s=0.6))
    in_fetch, release = threading.Event(), threading.Event()

    def held(previous: Token | None) -> Token:
        in_fetch.set()
        release.wait(10)
        return make_token(clock(), 100)

    holder = threading.Thread(target=cache.get_or_fetch, args=("k", held))
    holder.start()
    try:
        assert in_fetch.wait(10)
        with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
            cache.get_or_fetch("k", lambda previous: make_token(clock(), 100))
    finally:
        release.set()
        holder.join(10)
    assert _warnings(caplog) == [
        "token cache: waited 1 s for the in-process lock of a key; re-reading the cache "
        "before fetching"
    ]


def test_a_thread_asking_at_the_usable_instant_waits_for_the_refresh(clock: FakeClock) -> None:
    """While another thread refreshes, a token is served up to, not at, its usable limit:
    at that instant the caller waits and gets the refreshed token."""
    cache = TokenCache(clock=clock, policy=_EXACT)
    old = cache.get_or_fetch("k", lambda previous: make_token(clock(), 100))
    in_fetch, release = threading.Event(), threading.Event()
    results: list[Token] = []

    def slow(previous: Token | None) -> Token:
        in_fetch.set()
        release.wait(10)
        return make_token(clock(), 100)

    clock.now = _EXACT.refresh_at(old)
    refresher = threading.Thread(target=lambda: results.append(cache.get_or_fetch("k", slow)))
    refresher.start()
    assert in_fetch.wait(10)
    clock.now = _EXACT.usable_until(old) - 0.001
    assert cache.get_or_fetch("k", lambda previous: make_token(clock(), 100)) is old
    clock.now = _EXACT.usable_until(old)
    waiter = threading.Thread(
        target=lambda: results.append(
            cache.get_or_fetch("k", lambda previous: make_token(clock(), 100))
        )
    )
    waiter.start()
    waiter.join(0.05)
    assert waiter.is_alive()  # waiting for the refresh, not served the old token
    release.set()
    refresher.join(10)
    waiter.join(10)
    assert results[0] is not old
    assert results == [results[0], results[0]]


# -- what goes to the shared store -----------------------------------------------------------


def _with_refresh_and_id_token() -> Token:
    return Token(
        access_token="at-shared-secretvalue",
        expires_at=1e10,
        issued_at=1e10 - 600,
        refresh_token="rt-secretvalue",
        id_token="id-secretvalue",
    )


@pytest.mark.parametrize("share", [True, False], ids=["shared", "kept-local"])
def test_refresh_and_id_tokens_go_to_the_store_only_when_told(share: bool) -> None:
    """By default another worker gets the refresh and id tokens too (it can refresh);
    ``store_refresh_tokens=False`` keeps both out of the store, and this process keeps them."""
    store = MemoryStore()
    cache = TokenCache(store, store_refresh_tokens=share)
    served = cache.get_or_fetch("k", lambda previous: _with_refresh_and_id_token())
    assert (served.refresh_token, served.id_token) == ("rt-secretvalue", "id-secretvalue")
    stored = store.get("k")
    assert stored is not None
    assert stored.access_token == "at-shared-secretvalue"
    expected = ("rt-secretvalue", "id-secretvalue") if share else (None, None)
    assert (stored.refresh_token, stored.id_token) == expected


def test_an_id_token_alone_is_kept_out_of_the_store_when_told() -> None:
    store = MemoryStore()
    cache = TokenCache(store, store_refresh_tokens=False)
    token = Token(
        access_token="at-secretvalue",
        expires_at=1e10,
        issued_at=1e10 - 600,
        id_token="id-secretvalue",
    )
    assert cache.get_or_fetch("k", lambda previous: token).id_token == "id-secretvalue"
    stored = store.get("k")
    assert stored is not None
    assert stored.id_token is None


@pytest.mark.parametrize("broken", [_BrokenLock, _EagerlyBrokenLock], ids=["at-enter", "at-lock"])
def test_a_lock_failure_in_a_thread_is_named_and_the_token_kept_for_the_key(
    caplog: pytest.LogCaptureFixture, broken: type[RefreshLock]
) -> None:
    cache = TokenCache(MemoryStore(), broken(), timing=CacheTiming(backend_retry_s=45))
    fetch = CountingFetch(lambda: 1e10 - 600, 600)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        first = cache.get_or_fetch("k", fetch)
        assert cache.get_or_fetch("k", fetch) is first
    assert fetch.calls == 1
    assert _warnings(caplog) == [
        "token cache: broken-lock backend unavailable (the lock server is gone); using "
        "the in-process memory level only and retrying the backend every 45 s"
    ]


# -- the thread path through a shared store and a refresh lock --------------------------------


def test_a_thread_fetch_renews_its_lock_while_it_runs_and_stops_after() -> None:
    """The heartbeat renews the held lock with its TTL during the fetch and ends with it."""
    lock = _RecordingLock()
    cache = TokenCache(MemoryStore(), lock, timing=CacheTiming(lock_ttl_s=0.03))

    def fetch(previous: Token | None) -> Token:
        assert lock.renewal.wait(10)
        return make_token(1e10 - 600, 600)

    cache.get_or_fetch("k", fetch)
    assert lock.renewed[0] == ("k", 0.03)
    assert _heartbeats() == []


def test_a_thread_fetch_without_the_lock_warns_and_fetches_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lock = _RecordingLock(obtained=False)
    cache = TokenCache(MemoryStore(), lock, timing=CacheTiming(lock_wait_s=7))
    fetch = CountingFetch(lambda: 1e10 - 600, 600)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        cache.get_or_fetch("k", fetch)
    assert _warnings(caplog) == [
        "token cache: recording lock not obtained within 7 s; fetching anyway"
    ]
    assert fetch.calls == 1


def test_a_release_failure_in_a_thread_is_named_after_the_lock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(
        MemoryStore(), _RecordingLock(release_fails=True), timing=CacheTiming(backend_retry_s=45)
    )
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        cache.get_or_fetch("k", lambda previous: make_token(1e10 - 600, 600))
    assert _warnings(caplog) == [
        "token cache: recording backend unavailable (the lock server is gone); using the "
        "in-process memory level only and retrying the backend every 45 s"
    ]


def test_a_refresh_past_a_failing_lock_is_given_the_previous_token(clock: FakeClock) -> None:
    """The lock fails on every refresh: each refresh still gets the token before it (a
    refresh grant needs its refresh token), and the new token serves the key after."""
    cache = TokenCache(
        MemoryStore(),
        _BrokenLock(),
        policy=_EXACT,
        timing=CacheTiming(backend_retry_s=10),
        clock=clock,
    )
    fetch = CountingFetch(clock, 100)
    first = cache.get_or_fetch("k", fetch)
    clock.advance(101)  # the token is due, and the store is tried again
    second = cache.get_or_fetch("k", fetch)
    assert fetch.previous == [None, first]
    assert cache.get_or_fetch("k", fetch) is second
    assert fetch.calls == 2


@pytest.mark.parametrize("shared", [True, False], ids=["with-store", "memory-only"])
def test_every_fetch_is_logged_at_info_whole(
    shared: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Task logs show which worker fetched (the Celery deployment test reads these lines)."""
    cache = TokenCache(MemoryStore() if shared else None)
    with caplog.at_level(logging.INFO, logger="vendorgate.cache"):
        token = cache.get_or_fetch("k", lambda previous: make_token(1e10 - 600, 600))
    sharing = "; sharing it through the memory store" if shared else ""
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        f"token cache: fetched a new token {token.fingerprint} (valid 600 s){sharing}"
    ]


def test_a_token_shared_through_the_store_is_replaced_at_its_refresh_instant(
    clock: FakeClock,
) -> None:
    """With a store holding the same token as memory: served up to the refresh instant,
    replaced at it."""
    store = MemoryStore()
    cache = TokenCache(store, clock=clock, policy=_EXACT)
    fetch = CountingFetch(lambda: 1e10 - 600, 600)
    clock.now = 1e10 - 600
    first = cache.get_or_fetch("k", fetch)
    clock.now = _EXACT.refresh_at(first) - 0.001
    assert cache.get_or_fetch("k", fetch) is first
    clock.now = _EXACT.refresh_at(first)
    assert cache.get_or_fetch("k", fetch) is not first
    assert fetch.calls == 2


def test_the_injected_random_source_draws_the_jitter(clock: FakeClock) -> None:
    """``rng=`` decides the refresh jitter (here: always the low end, no jitter at all)."""
    policy = RefreshPolicy(min_margin_s=0.0, clock_skew_s=0.0, jitter_ratio=0.2)
    cache = TokenCache(clock=clock, policy=policy, rng=_LowRandom())
    fetch = CountingFetch(clock, 100)
    first = cache.get_or_fetch("k", fetch)
    clock.now = policy.refresh_at(first, _LowRandom()) - 0.001
    assert policy.refresh_at(first, _LowRandom()) > policy.refresh_at(first, random.Random(1))
    assert cache.get_or_fetch("k", fetch) is first
    assert fetch.calls == 1


def test_a_token_read_with_the_vendor_clock_keeps_its_granted_lifetime() -> None:
    """A reader that never fetched (offset unknown) takes the earlier, vendor-clock expiry
    of a token from a worker ahead of the vendor: the token it serves is moved whole, its
    lifetime still the one granted."""
    store = MemoryStore()
    issued = float(int(time.time()))
    store.set(
        "k",
        Token(
            "at-from-a-worker-ahead",
            expires_at=issued + 600,
            issued_at=issued,
            vendor_issued_at=issued - 300,
            expires_in_s=600,
        ),
    )
    served = TokenCache(store).get_or_fetch("k", lambda previous: make_token(issued, 600))
    assert served.access_token == "at-from-a-worker-ahead"
    assert (served.issued_at, served.expires_at) == (issued - 300, issued + 300)
    assert served.lifetime_s == 600


def test_a_token_read_from_the_store_is_served_up_to_its_refresh_instant(
    clock: FakeClock,
) -> None:
    store = MemoryStore()
    fetch = CountingFetch(lambda: 1e10 - 600, 600)
    clock.now = 1e10 - 600
    shared = TokenCache(store, clock=clock, policy=_EXACT).get_or_fetch("k", fetch)
    clock.now = _EXACT.refresh_at(shared) - 0.001
    assert TokenCache(store, clock=clock, policy=_EXACT).get_or_fetch("k", fetch) == shared
    clock.now = _EXACT.refresh_at(shared)
    assert TokenCache(store, clock=clock, policy=_EXACT).get_or_fetch("k", fetch) != shared
    assert fetch.calls == 2


def test_a_worker_refreshing_is_given_the_newer_token_another_worker_stored(
    clock: FakeClock,
) -> None:
    """Memory holds this worker's old token, the store a newer one from another worker, and
    both are due: the refresh is given the newer one (its refresh token is the live one)."""
    store = MemoryStore()
    clock.now = 1e10 - 1000
    worker = TokenCache(store, clock=clock, policy=_EXACT)
    old = worker.get_or_fetch("k", lambda previous: make_token(clock(), 600))
    newer = Token(
        "at-newer", expires_at=clock() + 650, issued_at=clock() + 50, refresh_token="rt-newer"
    )
    store.set("k", newer)  # another worker's, fetched 50 s later
    clock.now = max(_EXACT.refresh_at(old), _EXACT.refresh_at(newer))
    given: list[Token | None] = []

    def refresh(previous: Token | None) -> Token:
        given.append(previous)
        return make_token(clock(), 600)

    worker.get_or_fetch("k", refresh)
    assert [t.refresh_token if t else None for t in given] == ["rt-newer"]


class _HighRandom(random.Random):
    """Draws the high end of every range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_a_failed_refresh_is_tried_again_after_at_most_refresh_retry_s(clock: FakeClock) -> None:
    """The next attempt after a failed refresh is jittered within half to all of
    ``refresh_retry_s``: at the high end, exactly that long after the failure."""
    cache = TokenCache(
        clock=clock, policy=_EXACT, timing=CacheTiming(refresh_retry_s=2.0), rng=_HighRandom()
    )
    old = cache.get_or_fetch("k", CountingFetch(clock))  # due at 90 s, usable until 95 s
    attempts: list[float] = []

    def failing(previous: Token | None) -> Token:
        attempts.append(clock())
        raise RuntimeError("token endpoint answered 503")

    start = clock()
    clock.now = start + 90.5
    assert cache.get_or_fetch("k", failing) is old
    clock.now = start + 92.5 - 0.001
    assert cache.get_or_fetch("k", failing) is old
    clock.now = start + 92.5
    assert cache.get_or_fetch("k", failing) is old
    assert attempts == [start + 90.5, start + 92.5]
