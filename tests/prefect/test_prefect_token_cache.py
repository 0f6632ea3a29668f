"""The token cache in Prefect's store: block documents per token, a concurrency-limit lock."""

from __future__ import annotations

import contextvars
import threading
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from _prefect_helpers import make_api

from vendorgate import CacheError
from vendorgate.cache import TokenCache
from vendorgate.prefect import PrefectBlockStore, PrefectConcurrencyLock
from vendorgate.prefect._cache import block_document_name, limit_name
from vendorgate.testing.cache_contract import LockContract, PairContract, StoreContract
from vendorgate.tokens import Token, TokenProvider

if TYPE_CHECKING:
    from collections.abc import Callable

    from vendorgate.testing import VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

ACCESS = "eyJ-access-token-value-for-tests"


def _key() -> str:
    return f"vendorgate:token:oauth2-basic:{uuid.uuid4().hex}"


def _token(value: str = ACCESS, lifetime_s: float = 3600) -> Token:
    now = time.time()
    return Token(value, expires_at=now + lifetime_s, issued_at=now)


def _thread(target: Callable[[], None]) -> threading.Thread:
    """A thread that sees this test's Prefect settings (they live in a context variable)."""
    return threading.Thread(target=contextvars.copy_context().run, args=(target,))


def _api_client():  # the REST API as any user of the server sees it
    import httpx
    from prefect.settings import PREFECT_API_URL

    return httpx.Client(base_url=PREFECT_API_URL.value(), timeout=30)


def test_names_come_from_the_identity_only() -> None:
    """Document and limit names are stable per key and readable (vendor), never a secret."""
    key = "vendorgate:token:techwolf-eu:0123456789abcdef"
    assert block_document_name(key) == block_document_name(key)
    assert block_document_name(key).startswith("vendorgate-techwolf-eu-")
    assert limit_name(key).startswith("vendorgate-token-techwolf-eu-")
    assert block_document_name(key) != block_document_name(key + "0")


def test_store_round_trip_and_miss(prefect_harness: None) -> None:
    """A stored token is read back by another store instance (another worker)."""
    key = _key()
    PrefectBlockStore().set(key, _token())
    got = PrefectBlockStore().get(key)
    assert got is not None
    assert got.access_token == ACCESS
    assert PrefectBlockStore().get(_key()) is None


def test_document_is_created_once_then_patched(prefect_harness: None) -> None:
    """Refreshing a token patches the one document of its key instead of adding another."""
    key = _key()
    store = PrefectBlockStore()
    store.set(key, _token("first-access-token"))
    PrefectBlockStore().set(key, _token("second-access-token"))
    store.set(key, _token("third-access-token"))
    with _api_client() as api:
        docs = api.post(
            "/block_documents/filter",
            json={"block_types": {"slug": {"any_": ["vendorgate-token-cache-entry"]}}},
        ).json()
    named = [d for d in docs if d["name"] == block_document_name(key)]
    assert len(named) == 1
    got = PrefectBlockStore().get(key)
    assert got is not None
    assert got.access_token == "third-access-token"


def test_rest_api_shows_no_token(prefect_harness: None) -> None:
    """Reading the cache document through the REST API shows the entry masked."""
    key = _key()
    PrefectBlockStore().set(key, _token())
    with _api_client() as api:
        body = api.get(
            f"/block_types/slug/vendorgate-token-cache-entry/block_documents/name/"
            f"{block_document_name(key)}"
        ).text
    assert ACCESS not in body
    assert "********" in body


def test_delete_if_compares_the_fingerprint(prefect_harness: None) -> None:
    """Invalidating an old token never removes a newer one stored meanwhile."""
    key = _key()
    store = PrefectBlockStore()
    old, new = _token("old-access-token"), _token("new-access-token")
    store.set(key, new)
    assert store.delete_if(key, old.fingerprint) is False
    assert store.get(key) is not None
    assert store.delete_if(key, new.fingerprint) is True
    assert store.get(key) is None


def test_unreachable_api_is_a_cache_error() -> None:
    """A Prefect API that is down makes the cache fall back to memory (CacheError)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        pytest.raises(CacheError) as info,
    ):
        PrefectBlockStore().get(_key())
    assert ACCESS not in str(info.value)


def test_missing_limit_is_created_with_limit_one(prefect_harness: None) -> None:
    """The first lock of a key creates its global concurrency limit (1 slot, active)."""
    key = _key()
    with PrefectConcurrencyLock().lock(key, ttl_s=30, wait_s=30) as acquired:
        assert acquired is True
    with _api_client() as api:
        limit = api.get(f"/v2/concurrency_limits/{limit_name(key)}").json()
    assert limit["limit"] == 1
    assert limit["active"] is True


def test_lock_excludes_a_second_holder(prefect_harness: None) -> None:
    """While one worker holds the lock, another gets False after waiting."""
    key = _key()
    lock = PrefectConcurrencyLock()
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.lock(key, ttl_s=30, wait_s=30) as ok:
            assert ok
            held.set()
            release.wait(60)

    thread = _thread(holder)
    thread.start()
    try:
        assert held.wait(60)
        with PrefectConcurrencyLock().lock(key, ttl_s=30, wait_s=2) as second:
            assert second is False
    finally:
        release.set()
        thread.join()
    with PrefectConcurrencyLock().lock(key, ttl_s=30, wait_s=30) as third:
        assert third is True


def test_a_limit_that_is_not_one_is_refused(prefect_harness: None) -> None:
    """A limit of 2 would let two workers refresh at once: it is an error, not ignored."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    key = _key()
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=limit_name(key), limit=2)
        )
    with (
        pytest.raises(CacheError, match="limit 1"),
        PrefectConcurrencyLock().lock(key, ttl_s=30, wait_s=5),
    ):
        pass


def test_lease_below_prefect_minimum_is_refused() -> None:
    """Prefect leases last at least 60 s; a shorter one is a configuration error."""
    from vendorgate import ConfigurationError

    with pytest.raises(ConfigurationError, match="lease_duration_s"):
        PrefectConcurrencyLock(lease_duration_s=10)


def test_workers_share_one_token_request(prefect_harness: None, sandbox: VendorSandbox) -> None:
    """Eight cold workers asking at once cause one token request at the vendor."""
    from vendorgate.prefect._connection import token_config

    credentials = make_api(sandbox).credentials
    credentials.client_id = f"workers-{uuid.uuid4().hex[:8]}"  # no token cached by others
    secret = sandbox.demo_credentials("oauth2-basic")["client_secret"]
    sandbox.add_client("oauth2-basic", credentials.client_id, client_secret=secret)
    config = token_config(credentials)
    tokens: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        cache = TokenCache(PrefectBlockStore(), PrefectConcurrencyLock())
        provider = TokenProvider(config, cache=cache)
        barrier.wait()
        tokens.append(provider.get_token().fingerprint)

    threads = [_thread(worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1
    assert sandbox.counters().tokens(vendor="oauth2") == 1


class _OnServer:
    @pytest.fixture(autouse=True)
    def _server(self, prefect_harness: None) -> None:
        """Every contract test talks to the session's Prefect server."""

    def make_store(self) -> PrefectBlockStore:
        return PrefectBlockStore()

    def make_lock(self) -> PrefectConcurrencyLock:
        return PrefectConcurrencyLock()


class TestBlockStoreContract(_OnServer, StoreContract):
    def write_corrupt(self, key: str, raw: str) -> None:
        PrefectBlockStore()._write(block_document_name(key), raw)


class TestConcurrencyLockContract(_OnServer, LockContract):
    pass


class TestBlockStoreWithConcurrencyLock(_OnServer, PairContract):
    pass
