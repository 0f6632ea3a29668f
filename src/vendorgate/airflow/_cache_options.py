"""Token cache options (store + lock) -> a :class:`~vendorgate.cache.TokenCache`.

Accepts the mapping shape of the core's ``cache_from_mapping``::

    {"backend": "memory"}                                   memory only
    {"backend": "file", "directory": ...}                   one backend as store and lock
    {"store": {"backend": "airflow-variable"}, "lock": {"backend": "file", ...}}
    {"store": {...}}                                        a store without a lock

Shipped for the Airflow adapter until the core's store/lock registry takes over.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError
from vendorgate.cache import CacheBackend

if TYPE_CHECKING:
    from collections.abc import Mapping

    from vendorgate.cache import TokenCache
    from vendorgate.tokens import Token

__all__ = ["StoreWithLock", "cache_from_options"]

_STORES = ("airflow-variable", "file", "redis", "memory")
_LOCKS = ("file", "redis")


class StoreWithLock(CacheBackend):
    """A shared level made of a token store and a separate refresh lock."""

    def __init__(self, store: Any, lock: CacheBackend | None) -> None:
        self.store = store
        self.lock_backend = lock
        self.name = f"{store.name}+{lock.name if lock is not None else 'no lock'}"

    def __repr__(self) -> str:
        return f"StoreWithLock({self.store!r}, {self.lock_backend!r})"

    def get(self, key: str) -> Token | None:
        return self.store.get(key)  # type: ignore[no-any-return]

    def set(self, key: str, token: Token) -> None:
        self.store.set(key, token)

    def delete_if(self, key: str, fingerprint: str) -> bool:
        return bool(self.store.delete_if(key, fingerprint))

    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        if self.lock_backend is None:
            return nullcontext(True)
        return self.lock_backend.lock(key, ttl_s=ttl_s, wait_s=wait_s)

    def renew_lock(self, key: str, *, ttl_s: float) -> bool:
        if self.lock_backend is None:
            return True
        return self.lock_backend.renew_lock(key, ttl_s=ttl_s)

    def close(self) -> None:
        self.store.close()
        if self.lock_backend is not None:
            self.lock_backend.close()


def _backend(options: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> Any:
    from vendorgate.cache import FileBackend, RedisBackend

    name = options.get("backend")
    if name not in allowed:
        raise ConfigurationError(f"must be one of {', '.join(allowed)}", field=f"{field}.backend")
    if name == "file":
        return FileBackend(options.get("directory") or "~/.cache/vendorgate")
    if name == "redis":
        return RedisBackend(options.get("url"))
    from vendorgate.airflow.cache import AirflowVariableStore

    return AirflowVariableStore()


def cache_from_options(options: Mapping[str, Any] | None) -> TokenCache:
    """Build the token cache these options describe."""
    from vendorgate.cache import TokenCache

    if not options or options.get("backend") == "memory":
        return TokenCache()
    if "backend" in options:
        backend = _backend(options, "cache", ("file", "redis"))
        return TokenCache(backend)
    store_opts = options.get("store") or {}
    if store_opts.get("backend") == "memory":
        return TokenCache()
    store = _backend(store_opts, "cache.store", _STORES)
    lock_opts = options.get("lock")
    lock = _backend(lock_opts, "cache.lock", _LOCKS) if lock_opts else None
    if isinstance(store, CacheBackend) and lock is None:
        return TokenCache(store)
    return TokenCache(StoreWithLock(store, lock))
