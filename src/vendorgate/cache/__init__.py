"""The shared token cache: a memory level in front of a shared backend, single-flight refresh.

Public names:
    TokenCache: ``get_or_fetch`` / ``aget_or_fetch`` / ``invalidate`` / ``ainvalidate``.
    RefreshPolicy: when a token is replaced (ratio, minimum margin, jitter, clock skew).
    CacheBackend: the interface of shared levels.
    MemoryBackend, FileBackend, RedisBackend, VaultKVBackend: the shipped backends.
    default_cache: the process-wide memory-only cache.
    encode_entry, decode_entry, storage_name: the entry format and key naming shared
        by every backend (for writers of new backends).
"""

from __future__ import annotations

from vendorgate.cache._base import CacheBackend
from vendorgate.cache._cache import TokenCache, default_cache
from vendorgate.cache._codec import decode_entry, encode_entry, storage_name
from vendorgate.cache._file import FileBackend
from vendorgate.cache._memory import MemoryBackend
from vendorgate.cache._policy import RefreshPolicy
from vendorgate.cache._redis import RedisBackend
from vendorgate.cache._registry import cache_from_mapping
from vendorgate.cache._vault import VaultKVBackend

__all__ = [
    "CacheBackend",
    "FileBackend",
    "MemoryBackend",
    "RedisBackend",
    "RefreshPolicy",
    "TokenCache",
    "VaultKVBackend",
    "cache_from_mapping",
    "decode_entry",
    "default_cache",
    "encode_entry",
    "storage_name",
]
