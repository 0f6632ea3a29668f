"""TokenCache with a separate store and lock: non-atomic stores, stores without a lock, knobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cache_helpers import CountingFetch, FakeClock, NonAtomicStore, make_token

from vendorgate import ConfigurationError
from vendorgate.cache import (
    CacheBackend,
    CacheTiming,
    MemoryBackend,
    MemoryLock,
    MemoryStore,
    RefreshPolicy,
    TokenCache,
)
from vendorgate.tokens import Token


class _Window:
    """Holds the first delete_if of a store open between its compare and its delete."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.used = False

    def __call__(self) -> None:
        if self.used:
            return
        self.used = True
        self.entered.set()
        self.release.wait(10)


def test_non_atomic_delete_never_loses_a_token_stored_meanwhile() -> None:
    """A late invalidation on a store without compare-and-delete keeps the fresh token."""
    window = _Window()
    store, lock = NonAtomicStore(window), MemoryLock()
    fetch = CountingFetch(time.time, 600)
    late, fresh, third = (TokenCache(store, lock) for _ in range(3))
    old = late.get_or_fetch("k", fetch)
    assert fresh.get_or_fetch("k", fetch) == old
    # The late worker compared the old token and is about to delete it ...
    invalidating = threading.Thread(target=late.invalidate, args=("k", old))
    invalidating.start()
    assert window.entered.wait(10)
    # ... while another worker replaces the token (before the fix: it stored it here).
    replaced = threading.Event()

    def replace() -> None:
        fresh.invalidate("k", old)
        fresh.get_or_fetch("k", fetch)
        replaced.set()

    replacer = threading.Thread(target=replace)
    replacer.start()
    replaced.wait(0.5)  # the race window stays open this long
    window.release.set()
    invalidating.join(10)
    replacer.join(10)
    new = fresh.peek("k")
    assert new is not None
    assert new != old
    assert store.get("k") == new  # the delete did not take the fresh token with it
    assert third.get_or_fetch("k", fetch) == new
    assert fetch.calls == 2


def test_non_atomic_store_without_lock_is_never_deleted_from() -> None:
    """Without a lock, invalidation leaves a non-atomic store alone; the refused token is a miss."""
    store = NonAtomicStore()
    cache = TokenCache(store)
    fetch = CountingFetch(time.time, 600)
    old = cache.get_or_fetch("k", fetch)
    assert cache.invalidate("k", old) is True  # removed from memory
    assert store.deletes == 0
    new = cache.get_or_fetch("k", fetch)  # the stored refused token is not served again
    assert new != old
    assert store.get("k") == new  # and the fetch overwrote it


def test_non_atomic_store_deletes_under_the_lock() -> None:
    """With a lock, invalidation on a non-atomic store does remove the refused token."""
    store = NonAtomicStore()
    cache = TokenCache(store, MemoryLock())
    old = cache.get_or_fetch("k", CountingFetch(time.time, 600))
    assert cache.invalidate("k", old) is True
    assert store.get("k") is None
    assert store.deletes == 1


def test_store_without_lock_still_shares_tokens() -> None:
    """A store alone (no lock) shares the token a first worker fetched."""
    store = MemoryStore()
    fetch = CountingFetch(time.time, 600)
    first = TokenCache(store).get_or_fetch("k", fetch)
    assert TokenCache(store).get_or_fetch("k", fetch) == first
    assert fetch.calls == 1


def test_a_backend_given_as_store_is_also_the_lock() -> None:
    """TokenCache(backend) keeps working: a store that is also a lock serves as both."""
    backend = MemoryBackend()
    cache = TokenCache(backend)
    assert cache.store is backend
    assert cache.lock is backend
    assert cache.backend is backend


def test_lock_without_store_is_refused() -> None:
    """A lock alone shares nothing: the error says to give a store."""
    with pytest.raises(ConfigurationError) as info:
        TokenCache(lock=MemoryLock())
    assert info.value.field == "lock"


@pytest.mark.parametrize(
    ("knob", "where"),
    [("refresh_ratio", "policy"), ("min_margin_s", "policy"), ("lock_ttl_s", "timing")],
)
def test_knobs_of_before_the_split_say_where_they_went(knob: str, where: str) -> None:
    """TokenCache(min_margin_s=...) names the field and the object it belongs in now."""
    with pytest.raises(ConfigurationError) as info:
        TokenCache(**{knob: 1})  # type: ignore[arg-type]
    assert info.value.field == knob
    assert f"{where}=" in str(info.value)


def test_timing_is_frozen() -> None:
    """A CacheTiming cannot be changed behind a cache's back."""
    timing = CacheTiming()
    with pytest.raises(AttributeError):
        timing.lock_wait_s = 1.0  # type: ignore[misc]


def test_repr_names_store_and_lock() -> None:
    """The repr tells which store and lock a cache uses."""
    assert repr(TokenCache(MemoryStore(), MemoryLock())) == (
        "TokenCache(store='memory', lock='memory', keys=0)"
    )


def test_close_closes_a_backend_once() -> None:
    """Closing a cache whose store is its lock closes that object once."""
    closed: list[str] = []

    class Closing(MemoryBackend):
        def close(self) -> None:
            closed.append("x")

    TokenCache(Closing()).close()
    assert closed == ["x"]


class _RenewingLegacy(MemoryBackend):
    """A backend written before the split: overrides renew_lock."""

    def __init__(self) -> None:
        super().__init__()
        self.renewed = threading.Event()

    def renew_lock(self, key: str, *, ttl_s: float) -> bool:
        self.renewed.set()
        return True


def test_legacy_renew_lock_is_still_renewed() -> None:
    """A CacheBackend subclass overriding renew_lock gets its lock renewed while fetching."""
    backend = _RenewingLegacy()
    assert backend.renews is True
    cache = TokenCache(backend, timing=CacheTiming(lock_ttl_s=0.3))

    def slow(previous: Token | None) -> Token:
        assert backend.renewed.wait(10)  # the heartbeat ran while this fetch was slow
        return make_token(time.time(), 600)

    cache.get_or_fetch("k", slow)


def test_lock_without_renewal_starts_no_heartbeat() -> None:
    """A lock that does not declare renews is never renewed."""

    class Counting(MemoryLock):
        renewals = 0

        def renew(self, key: str, *, ttl_s: float) -> bool:  # pragma: no cover - must not run
            Counting.renewals += 1
            return True

    cache = TokenCache(MemoryStore(), Counting(), timing=CacheTiming(lock_ttl_s=0.03))

    def slow(previous: Token | None) -> Token:
        time.sleep(0.1)  # three renewal periods
        return make_token(time.time(), 600)

    cache.get_or_fetch("k", slow)
    assert Counting.renewals == 0


class _BrokenLock(MemoryLock):
    name = "broken-lock"

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        from vendorgate import CacheError

        raise CacheError("lock service down")
        yield True  # pragma: no cover


def test_lock_failure_degrades_and_names_the_lock(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A lock service that is down: the task gets its token, one warning names the lock."""
    cache = TokenCache(
        MemoryStore(clock=clock),
        _BrokenLock(),
        clock=clock,
        policy=RefreshPolicy(jitter_ratio=0),
    )
    with caplog.at_level("WARNING", logger="vendorgate.cache"):
        token = cache.get_or_fetch("k", CountingFetch(clock, 600))
    assert token is not None
    assert cache.degraded
    assert "broken-lock backend unavailable" in caplog.text


def test_cache_backend_declares_atomic_delete() -> None:
    """Backends written against the old contract promised an atomic compare-and-delete."""
    assert CacheBackend.atomic_delete is True
    assert NonAtomicStore.atomic_delete is False


def test_non_atomic_store_with_a_busy_lock_is_not_deleted_from(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When the lock stays busy, invalidation deletes nothing and the refused token is a miss."""
    store, lock = NonAtomicStore(), MemoryLock()
    cache = TokenCache(store, lock, timing=CacheTiming(lock_wait_s=0.2))
    fetch = CountingFetch(time.time, 600)
    old = cache.get_or_fetch("k", fetch)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock.lock("k", ttl_s=30, wait_s=5):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        with caplog.at_level("WARNING", logger="vendorgate.cache"):
            assert cache.invalidate("k", old) is True  # from memory
        assert store.deletes == 0
        assert "to invalidate token" in caplog.text
    finally:
        release.set()
        holder.join(10)
    new = cache.get_or_fetch("k", fetch)
    assert new != old
    assert store.get("k") == new
