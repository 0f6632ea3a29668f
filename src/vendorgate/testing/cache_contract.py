"""The contract every token store and refresh lock passes, as pytest test classes.

Subclass one of the classes below in a ``test_*.py`` file under a name pytest collects
(``Test...``) and implement the factory methods; every ``test_*`` method then runs
against your store or lock::

    import pytest
    from vendorgate.testing.cache_contract import LockContract, PairContract, StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture(autouse=True)
        def _where(self, tmp_path):           # fixtures of your own, if you need them
            self.where = tmp_path

        def make_store(self):
            return MyStore(self.where)          # a new handle on the SAME storage each call

    class TestMyLock(LockContract):
        def make_lock(self):
            return MyLock(...)                  # a new handle on the SAME locks each call

    class TestMyStoreWithFileLock(PairContract):
        ...                                     # make_store() and make_lock()

* :class:`StoreContract`: misses, round trip, expiry, compare-before-delete, sharing
  between handles, corrupt entries (when :meth:`StoreContract.write_corrupt` is given).
* :class:`LockContract`: exclusion, waiting for a release, independent keys, and for
  locks that declare ``renews``: lapse after the TTL, no release of a successor's lock,
  renewal while held.
* :class:`PairContract`: two :class:`~vendorgate.cache.TokenCache` objects (two
  "workers") on the store and lock share one token, fetch once under concurrency and
  after a mass invalidation, and never lose a fresh token to a late invalidation,
  whether or not the store's delete is atomic.

"Another worker" is a second handle from the factory: two calls must return objects
that see the same storage and the same locks, as two processes would. Every
concurrency test holds its race window open with a slow fetch, so a missing lock shows
up as a second token request rather than passing by luck. The tests use real time for
locks (a few seconds per class at most); mark your subclasses as your suite marks tests
that talk to real servers (``pytestmark = pytest.mark.slow`` in vendorgate's own).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from vendorgate.cache import RefreshLock, TokenCache, TokenStore
    from vendorgate.tokens import Token

__all__ = ["LockContract", "PairContract", "StoreContract", "make_token"]


def make_token(
    lifetime_s: float = 600.0, *, refresh: str | None = None, now: float | None = None
) -> Token:
    """A token with a unique access token issued ``now`` (default: the current time)."""
    from vendorgate.tokens import Token

    issued = time.time() if now is None else now
    return Token(
        access_token=f"at-{uuid.uuid4().hex}-contract",
        expires_at=issued + lifetime_s,
        issued_at=issued,
        refresh_token=refresh,
        scope="read write",
    )


def _key() -> str:
    return f"contract-{uuid.uuid4().hex[:12]}"


class StoreContract:
    """Tests every :class:`~vendorgate.cache.TokenStore` passes."""

    def make_store(self) -> TokenStore:
        """Return a new handle on the store under test (same storage on every call)."""
        raise NotImplementedError("implement make_store() in your StoreContract subclass")

    def write_corrupt(self, key: str, raw: str) -> None:
        """Write ``raw`` as the stored entry of ``key``, bypassing the store's encoding.

        Default: skip the corrupt-entry tests (a store of objects cannot hold one).
        """
        pytest.skip("this store cannot be given a corrupt entry (write_corrupt not implemented)")

    def test_declares_its_kind(self) -> None:
        """A store has a short name for logs and says whether its delete is atomic."""
        store = self.make_store()
        assert isinstance(store.name, str)
        assert store.name
        assert isinstance(store.atomic_delete, bool)

    def test_missing_entry_is_none(self) -> None:
        """An unknown key is a miss, not an error."""
        assert self.make_store().get(_key()) is None

    def test_roundtrip_keeps_every_field(self) -> None:
        """A stored token comes back with its refresh token, scope and times."""
        store, key = self.make_store(), _key()
        token = make_token(refresh="rt-contract-secret")
        store.set(key, token)
        assert store.get(key) == token

    def test_set_replaces_the_entry(self) -> None:
        """Storing a newer token replaces the older one."""
        store, key = self.make_store(), _key()
        store.set(key, make_token())
        newer = make_token()
        store.set(key, newer)
        assert store.get(key) == newer

    def test_expired_entry_is_a_miss(self) -> None:
        """An expired token is never served from a store."""
        store, key = self.make_store(), _key()
        store.set(key, make_token(600, now=time.time() - 700))
        assert store.get(key) is None

    def test_keys_are_independent(self) -> None:
        """Two token configurations do not see each other's tokens."""
        store, a, b = self.make_store(), _key(), _key()
        ta, tb = make_token(), make_token()
        store.set(a, ta)
        store.set(b, tb)
        assert (store.get(a), store.get(b)) == (ta, tb)

    def test_another_handle_sees_the_token(self) -> None:
        """A second worker's handle reads what the first one stored."""
        key, token = _key(), make_token()
        self.make_store().set(key, token)
        assert self.make_store().get(key) == token

    def test_delete_if_removes_the_matching_token(self) -> None:
        """Invalidating the stored token removes it."""
        store, key = self.make_store(), _key()
        token = make_token()
        store.set(key, token)
        assert store.delete_if(key, token.fingerprint) is True
        assert store.get(key) is None

    def test_delete_if_never_removes_another_token(self) -> None:
        """Invalidating an old token leaves a newer stored token in place."""
        store, key = self.make_store(), _key()
        old, new = make_token(), make_token()
        store.set(key, new)
        assert store.delete_if(key, old.fingerprint) is False
        assert store.get(key) == new

    def test_delete_if_on_missing_entry_is_false(self) -> None:
        """Invalidating when nothing is stored is harmless."""
        assert self.make_store().delete_if(_key(), "0" * 16) is False

    def test_corrupt_entry_is_a_logged_miss(self, caplog: pytest.LogCaptureFixture) -> None:
        """A corrupt entry counts as a miss, logged at WARNING without its content."""
        store, key = self.make_store(), _key()
        self.write_corrupt(key, '{"v": 1, "token": {"access_token": "leaked-secret-xyz"')
        with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
            assert store.get(key) is None
        assert "corrupt" in caplog.text
        assert "leaked-secret-xyz" not in caplog.text

    def test_corrupt_entry_is_overwritten(self) -> None:
        """A token stored over a corrupt entry is read back."""
        store, key = self.make_store(), _key()
        self.write_corrupt(key, "not json at all")
        token = make_token()
        store.set(key, token)
        assert store.get(key) == token

    def test_repr_shows_no_token(self) -> None:
        """A store's repr never contains a token it holds."""
        store, key = self.make_store(), _key()
        token = make_token(refresh="rt-contract-secret")
        store.set(key, token)
        assert token.access_token not in repr(store)
        assert "rt-contract-secret" not in repr(store)


class LockContract:
    """Tests every :class:`~vendorgate.cache.RefreshLock` passes."""

    def make_lock(self) -> RefreshLock:
        """Return a new handle on the lock under test (same locks on every call)."""
        raise NotImplementedError("implement make_lock() in your LockContract subclass")

    def test_declares_its_kind(self) -> None:
        """A lock has a short name for logs and says whether it needs renewing."""
        lock = self.make_lock()
        assert isinstance(lock.name, str)
        assert lock.name
        assert isinstance(lock.renews, bool)

    def test_lock_excludes_a_second_holder(self) -> None:
        """While one worker holds a key's lock, another cannot take it; afterwards it can."""
        key, holder, other = _key(), self.make_lock(), self.make_lock()
        seen: list[bool] = []

        def try_lock() -> None:
            with other.lock(key, ttl_s=30, wait_s=0.2) as got:
                seen.append(got)

        with holder.lock(key, ttl_s=30, wait_s=5) as held:
            assert held is True
            t = threading.Thread(target=try_lock)
            t.start()
            t.join(30)
        try_lock()
        assert seen == [False, True]

    def test_waiter_gets_the_lock_once_released(self) -> None:
        """A worker waiting for a key's lock obtains it when the holder releases it."""
        key, holder, waiter = _key(), self.make_lock(), self.make_lock()
        got: list[bool] = []
        waiting = threading.Event()

        def wait_for_it() -> None:
            waiting.set()
            with waiter.lock(key, ttl_s=30, wait_s=20) as acquired:
                got.append(acquired)

        with holder.lock(key, ttl_s=30, wait_s=5) as held:
            assert held is True
            t = threading.Thread(target=wait_for_it)
            t.start()
            assert waiting.wait(10)
            t.join(0.3)  # the window: the waiter must still be waiting here
            assert got == []
        t.join(30)
        assert got == [True]

    def test_locks_of_different_keys_are_independent(self) -> None:
        """Two token configurations refresh in parallel."""
        lock, a, b = self.make_lock(), _key(), _key()
        with (
            lock.lock(a, ttl_s=30, wait_s=5) as ha,
            self.make_lock().lock(b, ttl_s=30, wait_s=0.2) as hb,
        ):
            assert (ha, hb) == (True, True)

    def test_expired_lock_is_taken_over_and_not_released_by_its_old_holder(self) -> None:
        """A TTL lock outlives no dead holder, and a slow old holder cannot free its successor's."""
        lock = self.make_lock()
        if not lock.renews:
            pytest.skip("this lock is freed by its holder's death, not a TTL")
        key, new_holder, third = _key(), self.make_lock(), self.make_lock()
        with lock.lock(key, ttl_s=0.5, wait_s=5) as held:
            assert held is True
            cm = new_holder.lock(key, ttl_s=30, wait_s=20)
            assert cm.__enter__() is True  # waits until the 0.5 s lock lapsed
        # The old holder's exit ran after its lock lapsed: the new holder's must stand.
        try:
            with third.lock(key, ttl_s=30, wait_s=0.2) as got:
                assert got is False
        finally:
            cm.__exit__(None, None, None)
        with third.lock(key, ttl_s=30, wait_s=5) as got:
            assert got is True

    def test_renew_keeps_a_held_lock(self) -> None:
        """Renewing a held TTL lock keeps others out past its first TTL."""
        lock = self.make_lock()
        if not lock.renews:
            pytest.skip("this lock needs no renewal")
        key, other = _key(), self.make_lock()
        with lock.lock(key, ttl_s=0.6, wait_s=5) as held:
            assert held is True
            for _ in range(4):  # 4 x 0.2 s > the 0.6 s TTL
                time.sleep(0.2)
                assert lock.renew(key, ttl_s=0.6) is True
            with other.lock(key, ttl_s=30, wait_s=0.1) as got:
                assert got is False

    def test_renew_of_a_lock_not_held_is_false(self) -> None:
        """Renewing a lock this handle does not hold reports it is not ours."""
        lock = self.make_lock()
        if not lock.renews:
            pytest.skip("this lock needs no renewal")
        assert lock.renew(_key(), ttl_s=30) is False


class PairContract:
    """Two TokenCache "workers" on one store and lock: single flight and safe invalidation."""

    def make_store(self) -> TokenStore:
        """Return a new handle on the store under test (same storage on every call)."""
        raise NotImplementedError("implement make_store() in your PairContract subclass")

    def make_lock(self) -> RefreshLock:
        """Return a new handle on the lock under test (same locks on every call)."""
        raise NotImplementedError("implement make_lock() in your PairContract subclass")

    def make_cache(self) -> TokenCache:
        """One worker's cache on a new store handle and a new lock handle."""
        from vendorgate.cache import CacheTiming, TokenCache

        return TokenCache(self.make_store(), self.make_lock(), timing=CacheTiming(lock_wait_s=30))

    def test_two_caches_share_one_token(self) -> None:
        """A second worker reuses the token the first one fetched."""
        key, fetch = _key(), _SlowFetch(0.0)
        first = self.make_cache().get_or_fetch(key, fetch)
        assert self.make_cache().get_or_fetch(key, fetch) == first
        assert fetch.calls == 1

    def test_concurrent_workers_fetch_once(self) -> None:
        """Threads of two workers asking at once, with a slow token endpoint: one request."""
        key, fetch = _key(), _SlowFetch(0.3)
        caches = [self.make_cache(), self.make_cache()]
        results: list[Token] = []
        threads = [
            threading.Thread(target=lambda c=c: results.append(c.get_or_fetch(key, fetch)))
            for c in caches
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert fetch.calls == 1
        assert len(results) == 8
        assert len({t.fingerprint for t in results}) == 1

    @pytest.mark.anyio
    async def test_tasks_and_threads_fetch_once(self) -> None:
        """Async tasks of one worker and threads of another cause one token request."""
        key, fetch = _key(), _SlowFetch(0.3)
        a, b = self.make_cache(), self.make_cache()

        async def afetch(previous: Token | None) -> Token:
            return await asyncio.to_thread(fetch, previous)

        threads = [threading.Thread(target=b.get_or_fetch, args=(key, fetch)) for _ in range(3)]
        for t in threads:
            t.start()
        tokens = await asyncio.gather(*(a.aget_or_fetch(key, afetch) for _ in range(10)))
        for t in threads:
            await asyncio.to_thread(t.join, 60)
        assert fetch.calls == 1
        assert {t.fingerprint for t in tokens} == {b.peek(key).fingerprint}  # type: ignore[union-attr]

    def test_late_invalidation_keeps_the_new_token(self) -> None:
        """A worker invalidating the old token after another replaced it causes no fetch."""
        key, fetch = _key(), _SlowFetch(0.0)
        a, b = self.make_cache(), self.make_cache()
        old = a.get_or_fetch(key, fetch)
        assert b.get_or_fetch(key, fetch) == old
        a.invalidate(key, old)
        new = a.get_or_fetch(key, fetch)
        b.invalidate(key, old)
        assert b.get_or_fetch(key, fetch) == new
        assert self.make_cache().get_or_fetch(key, fetch) == new
        assert fetch.calls == 2

    def test_mass_invalidation_fetches_one_new_token(self) -> None:
        """Many workers refused the same token at once: exactly one new token, kept by all."""
        key, fetch = _key(), _SlowFetch(0.3)
        caches = [self.make_cache() for _ in range(3)]
        old = caches[0].get_or_fetch(key, fetch)
        for c in caches[1:]:
            assert c.get_or_fetch(key, fetch) == old
        barrier = threading.Barrier(6)
        results: list[Token] = []

        def refused(cache: TokenCache) -> None:
            barrier.wait(30)
            cache.invalidate(key, old)
            results.append(cache.get_or_fetch(key, fetch))

        threads = [threading.Thread(target=refused, args=(c,)) for c in caches for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert fetch.calls == 2
        assert len(results) == 6
        assert len({t.fingerprint for t in results}) == 1
        assert old.fingerprint not in {t.fingerprint for t in results}
        assert self.make_store().get(key) == results[0]


class _SlowFetch:
    """A token endpoint that takes ``delay_s`` per request (holds race windows open)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self._guard = threading.Lock()

    def __call__(self, previous: Any) -> Token:
        with self._guard:
            self.calls += 1
        time.sleep(self.delay_s)
        return make_token()
