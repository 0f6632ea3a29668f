"""The two interfaces behind the shared level: a token *store* and a refresh *lock*.

:class:`TokenStore` keeps tokens where other processes and hosts find them (a directory,
Redis, Vault KV, an Airflow Variable, a Prefect block); :class:`RefreshLock` makes one
worker the fetcher (``flock``, Redis ``SET NX PX``, a Vault lease, a Prefect global
concurrency limit). :class:`~vendorgate.cache.TokenCache` pairs any store with any lock.

Store contract:

* Keys are strings derived from the *non-secret* identity of a token request
  (``TokenConfig.cache_key``): the same in every process, never derived from a secret.
* Values are :class:`~vendorgate.tokens.Token` objects, serialised with
  ``Token.to_dict()`` by shared stores (:func:`~vendorgate.cache.encode_entry`). A stored
  refresh token is a secret.
* ``get`` never raises for a missing, expired or corrupt entry: that is a miss. A store
  raises :class:`~vendorgate.CacheError` when it is itself unavailable; the
  :class:`TokenCache` in front then degrades to its memory level with one warning.
* ``atomic_delete = True`` declares that ``delete_if`` and ``set`` never interleave: a
  ``delete_if`` that compared the old token never deletes a newer one a concurrent
  ``set`` stored. A store without compare-and-delete (a key-value store of an
  orchestrator) keeps ``False``; the cache then deletes only under the refresh lock.

Lock contract:

* ``lock(key, ttl_s=, wait_s=)`` yields ``True`` when acquired within ``wait_s`` and
  ``False`` otherwise; it never raises for a busy lock, only :class:`CacheError` for an
  unavailable lock service.
* A lock that lapses after ``ttl_s`` (a TTL, a lease) declares ``renews = True`` and
  implements :meth:`RefreshLock.renew`: while the holder is still fetching, the
  :class:`TokenCache` renews it every ``ttl_s / 3``, so a short TTL frees the lock
  quickly when the holder dies and never while it works. Locks freed by their holder's
  death (``flock``) keep ``renews = False``.

:mod:`vendorgate.testing.cache_contract` holds the test suite every store and lock passes.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from vendorgate._token import Token

__all__ = ["CacheBackend", "RefreshLock", "TokenStore"]


class TokenStore(abc.ABC):
    """Where tokens are shared between processes and hosts (get / set / compare-and-delete)."""

    #: Short name used in logs ("file", "redis", "vault", "airflow-variable", ...).
    name: str = "store"
    #: ``True`` when :meth:`delete_if` never deletes a token a concurrent :meth:`set` stored.
    atomic_delete: ClassVar[bool] = False

    @abc.abstractmethod
    def get(self, key: str) -> Token | None:
        """Return the stored token, or ``None`` when absent, expired or unreadable.

        Raises:
            CacheError: The store itself is unavailable.
        """

    @abc.abstractmethod
    def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key`` (expiring no later than the token itself).

        Raises:
            CacheError: The store itself is unavailable.
        """

    @abc.abstractmethod
    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Delete the entry only if its token has this ``fingerprint``; return whether it did.

        Raises:
            CacheError: The store itself is unavailable.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Default: nothing to do."""


class RefreshLock(abc.ABC):
    """The cross-process lock that makes one worker fetch a key's token for everyone."""

    #: Short name used in logs ("file", "redis", "vault", "prefect-gcl", ...).
    name: str = "lock"
    #: ``True`` when the lock lapses after ``ttl_s`` and :meth:`renew` extends it.
    renews: ClassVar[bool] = False

    @abc.abstractmethod
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        """Hold the cross-process lock for ``key``.

        The context value is ``True`` when the lock was acquired within ``wait_s`` and
        ``False`` otherwise. The lock expires after ``ttl_s`` if its holder dies.

        Raises:
            CacheError: The lock service is unavailable.
        """

    def renew(self, key: str, *, ttl_s: float) -> bool:
        """Extend the lock this object holds for ``key`` to ``ttl_s`` from now.

        Called by :class:`TokenCache` every ``ttl_s / 3`` while it holds the lock and
        fetches, only when :attr:`renews` is ``True``. Extend only a lock that is still
        ours (compare before extending). Default: nothing to renew.

        Returns:
            ``False`` when the lock is no longer ours (it lapsed and someone took it).

        Raises:
            CacheError: The lock service is unavailable (the next beat tries again).
        """
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Default: nothing to do."""


class CacheBackend(TokenStore, RefreshLock):
    """A store and a lock in one object (the interface before the split; still supported).

    ``TokenCache(backend)`` uses it as both store and lock. Its contract required an
    atomic compare-before-delete, so ``atomic_delete`` is ``True``. A subclass that
    overrides :meth:`renew_lock` (the former name of :meth:`RefreshLock.renew`) is
    renewed like a lock with ``renews = True``.
    """

    name: str = "backend"
    atomic_delete: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "renews" not in cls.__dict__ and (
            "renew_lock" in cls.__dict__ or "renew" in cls.__dict__
        ):
            cls.renews = True

    def renew_lock(self, key: str, *, ttl_s: float) -> bool:
        """Former name of :meth:`renew` (kept for backends written before the split)."""
        return True

    def renew(self, key: str, *, ttl_s: float) -> bool:
        """Extend the held lock (delegates to :meth:`renew_lock`)."""
        return self.renew_lock(key, ttl_s=ttl_s)
