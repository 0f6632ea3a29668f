"""The shared token cache: a memory level in front of a shared store and lock, single flight.

Public names:
    TokenCache: ``get_or_fetch`` / ``aget_or_fetch`` / ``invalidate`` / ``ainvalidate``.
    RefreshPolicy: when a token is replaced (ratio, minimum margin, jitter, clock skew).
    CacheTiming: lock TTL, lock wait and back-off times of a cache.
    TokenStore, RefreshLock: the two interfaces of the shared level.
    MemoryStore, FileStore, RedisStore, VaultKVStore: the shipped stores.
    MemoryLock, FileLock, RedisLock, VaultLeaseLock: the shipped locks.
    CacheBackend: a store and a lock in one object (the interface before the split);
        MemoryBackend, FileBackend, RedisBackend, VaultKVBackend are both.
    register_store, register_lock, cache_from_mapping, cache_options_key, shared_cache:
        stores and locks by name, and caches built from plain options.
    default_cache: the process-wide memory-only cache.
    encode_entry, decode_entry, storage_name: the entry format and key naming shared
        by every store (for writers of new stores).
"""

from __future__ import annotations

from vendorgate.cache._base import CacheBackend, RefreshLock, TokenStore
from vendorgate.cache._cache import TokenCache, default_cache
from vendorgate.cache._codec import decode_entry, encode_entry, storage_name
from vendorgate.cache._file import FileBackend, FileLock, FileStore
from vendorgate.cache._memory import MemoryBackend, MemoryLock, MemoryStore
from vendorgate.cache._policy import RefreshPolicy
from vendorgate.cache._redis import RedisBackend, RedisLock, RedisStore
from vendorgate.cache._registry import (
    cache_from_mapping,
    cache_options_key,
    register_lock,
    register_store,
    shared_cache,
)
from vendorgate.cache._timing import CacheTiming
from vendorgate.cache._vault import VaultKVBackend, VaultKVStore, VaultLeaseLock

__all__ = [
    "CacheBackend",
    "CacheTiming",
    "FileBackend",
    "FileLock",
    "FileStore",
    "MemoryBackend",
    "MemoryLock",
    "MemoryStore",
    "RedisBackend",
    "RedisLock",
    "RedisStore",
    "RefreshLock",
    "RefreshPolicy",
    "TokenCache",
    "TokenStore",
    "VaultKVBackend",
    "VaultKVStore",
    "VaultLeaseLock",
    "cache_from_mapping",
    "cache_options_key",
    "decode_entry",
    "default_cache",
    "encode_entry",
    "register_lock",
    "register_store",
    "shared_cache",
    "storage_name",
]
