"""The shipped contract suite, run for every store, every lock and the pairings that make sense."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cache_helpers import (
    REDIS_URL,
    NonAtomicStore,
    redis_prefix_cleanup,
    vault_session,
    write_raw,
)

from vendorgate.cache import (
    FileBackend,
    FileLock,
    FileStore,
    MemoryLock,
    MemoryStore,
    RedisBackend,
    RedisLock,
    RedisStore,
    RefreshLock,
    TokenStore,
    VaultKVBackend,
    VaultKVStore,
    VaultLeaseLock,
)
from vendorgate.testing.cache_contract import LockContract, PairContract, StoreContract

pytestmark = pytest.mark.slow


# -- where each kind keeps its state (one place per test) ---------------------------------


class _Memory:
    @pytest.fixture(autouse=True)
    def _memory(self) -> None:
        self.memory_store = MemoryStore()
        self.memory_lock = MemoryLock()
        self.non_atomic = NonAtomicStore()


class _File:
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path / "cache"

    def write_corrupt(self, key: str, raw: str) -> None:
        write_raw({"kind": "file", "directory": str(self.directory)}, key, raw)


class _Redis:
    @pytest.fixture(autouse=True)
    def _prefix(self) -> Iterator[None]:
        self.prefix = f"vgtest:{uuid.uuid4().hex[:12]}:"
        yield
        redis_prefix_cleanup(REDIS_URL, self.prefix)

    def write_corrupt(self, key: str, raw: str) -> None:
        write_raw({"kind": "redis", "url": REDIS_URL, "prefix": self.prefix}, key, raw)


class _Vault:
    @pytest.fixture(autouse=True)
    def _vault(self, vault_for_cache: tuple[str, str]) -> None:
        url, token = vault_for_cache
        self.vault = {"kind": "vault", "url": url, "token": token}
        self.vault_prefix = f"vgtest/{uuid.uuid4().hex}"
        self.session = vault_session(self.vault)

    def write_corrupt(self, key: str, raw: str) -> None:
        write_raw({**self.vault, "prefix": self.vault_prefix}, key, raw)


# -- stores --------------------------------------------------------------------------------


class TestMemoryStore(_Memory, StoreContract):
    def make_store(self) -> TokenStore:
        return self.memory_store


class TestNonAtomicStore(_Memory, StoreContract):
    def make_store(self) -> TokenStore:
        return self.non_atomic


class TestFileStore(_File, StoreContract):
    def make_store(self) -> TokenStore:
        return FileStore(self.directory)


class TestRedisStore(_Redis, StoreContract):
    def make_store(self) -> TokenStore:
        return RedisStore(REDIS_URL, prefix=self.prefix)


class TestVaultKVStore(_Vault, StoreContract):
    def make_store(self) -> TokenStore:
        return VaultKVStore(self.session, prefix=self.vault_prefix)


# -- locks ---------------------------------------------------------------------------------


class TestMemoryLock(_Memory, LockContract):
    def make_lock(self) -> RefreshLock:
        return self.memory_lock


class TestFileLock(_File, LockContract):
    def make_lock(self) -> RefreshLock:
        return FileLock(self.directory)


class TestRedisLock(_Redis, LockContract):
    def make_lock(self) -> RefreshLock:
        return RedisLock(REDIS_URL, prefix=self.prefix)


class TestVaultLeaseLock(_Vault, LockContract):
    def make_lock(self) -> RefreshLock:
        return VaultLeaseLock(self.session, prefix=self.vault_prefix)


# -- the backends that are both, as store and as lock ----------------------------------------


class TestFileBackendAsStore(_File, StoreContract):
    def make_store(self) -> TokenStore:
        return FileBackend(self.directory)


class TestFileBackendAsLock(_File, LockContract):
    def make_lock(self) -> RefreshLock:
        return FileBackend(self.directory)


class TestRedisBackendAsStore(_Redis, StoreContract):
    def make_store(self) -> TokenStore:
        return RedisBackend(REDIS_URL, prefix=self.prefix)


class TestRedisBackendAsLock(_Redis, LockContract):
    def make_lock(self) -> RefreshLock:
        return RedisBackend(REDIS_URL, prefix=self.prefix)


class TestVaultKVBackendAsStore(_Vault, StoreContract):
    def make_store(self) -> TokenStore:
        return VaultKVBackend(self.session, prefix=self.vault_prefix)


class TestVaultKVBackendAsLock(_Vault, LockContract):
    def make_lock(self) -> RefreshLock:
        return VaultKVBackend(self.session, prefix=self.vault_prefix)


# -- pairings ------------------------------------------------------------------------------


class TestMemoryPair(_Memory, PairContract):
    def make_store(self) -> TokenStore:
        return self.memory_store

    def make_lock(self) -> RefreshLock:
        return self.memory_lock


class TestFilePair(_File, PairContract):
    def make_store(self) -> TokenStore:
        return FileStore(self.directory)

    def make_lock(self) -> RefreshLock:
        return FileLock(self.directory)


class TestRedisPair(_Redis, PairContract):
    def make_store(self) -> TokenStore:
        return RedisStore(REDIS_URL, prefix=self.prefix)

    def make_lock(self) -> RefreshLock:
        return RedisLock(REDIS_URL, prefix=self.prefix)


class TestVaultPair(_Vault, PairContract):
    def make_store(self) -> TokenStore:
        return VaultKVStore(self.session, prefix=self.vault_prefix)

    def make_lock(self) -> RefreshLock:
        return VaultLeaseLock(self.session, prefix=self.vault_prefix)


class TestVaultStoreRedisLock(_Vault, _Redis, PairContract):
    """Tokens where the secrets are, the lock where it is cheapest."""

    def make_store(self) -> TokenStore:
        return VaultKVStore(self.session, prefix=self.vault_prefix)

    def make_lock(self) -> RefreshLock:
        return RedisLock(REDIS_URL, prefix=self.prefix)


class TestRedisStoreFileLock(_Redis, _File, PairContract):
    """A shared store, with the lock on one host (workers of one machine)."""

    def make_store(self) -> TokenStore:
        return RedisStore(REDIS_URL, prefix=self.prefix)

    def make_lock(self) -> RefreshLock:
        return FileLock(self.directory)


class TestNonAtomicStoreMemoryLock(_Memory, PairContract):
    """A store without compare-and-delete is safe behind a lock (in-process)."""

    def make_store(self) -> TokenStore:
        return self.non_atomic

    def make_lock(self) -> RefreshLock:
        return self.memory_lock


class TestNonAtomicStoreFileLock(_Memory, _File, PairContract):
    """A store without compare-and-delete paired with a file lock (as on one host)."""

    def make_store(self) -> TokenStore:
        return self.non_atomic

    def make_lock(self) -> RefreshLock:
        return FileLock(self.directory)


class TestNonAtomicStoreRedisLock(_Memory, _Redis, PairContract):
    """A store without compare-and-delete paired with a Redis lock (as across hosts)."""

    def make_store(self) -> TokenStore:
        return self.non_atomic

    def make_lock(self) -> RefreshLock:
        return RedisLock(REDIS_URL, prefix=self.prefix)
