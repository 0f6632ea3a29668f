"""The cache interface shared by every backend (memory, file, Redis, Vault KV, Airflow, Prefect).

Contract (the cache issue implements it; adapters plug in new backends):

* Keys are strings derived from the *non-secret* identity of a token request
  (``TokenConfig.cache_key``): the same in every process, never derived from a secret.
* Values are :class:`~vendorgate.tokens.Token` objects, serialised with
  ``Token.to_dict()`` by shared backends. A stored refresh token is a secret.
* A backend never raises for a missing or corrupt entry: that is a miss. It raises
  :class:`~vendorgate.CacheError` when the backend itself is unavailable; the
  :class:`TokenCache` in front then degrades to its memory level with one warning.
* ``set`` and ``delete_if`` must not interleave: a ``delete_if`` that compared the old
  token must never delete a newer one that a ``set`` stored meanwhile.
* A lock with a TTL (Redis, a lease) overrides :meth:`CacheBackend.renew_lock`: while
  the holder is still fetching, the :class:`TokenCache` renews it every ``ttl_s / 3``,
  so a short TTL frees the lock quickly when the holder dies and never while it works.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from vendorgate._token import Token

__all__ = ["CacheBackend"]


class CacheBackend(abc.ABC):
    """A shared store of tokens with compare-before-delete and a cross-process lock."""

    #: Short name used in logs ("file", "redis", "vault", "airflow-variable", ...).
    name: str = "backend"

    @abc.abstractmethod
    def get(self, key: str) -> Token | None:
        """Return the stored token, or ``None`` when absent or unreadable (logged, no content)."""

    @abc.abstractmethod
    def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key`` (expiring no later than the token itself)."""

    @abc.abstractmethod
    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Delete the entry only if its token has this ``fingerprint``; return whether it did."""

    @abc.abstractmethod
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        """Hold the cross-process lock for ``key``.

        The context value is ``True`` when the lock was acquired within ``wait_s`` and
        ``False`` otherwise. The lock expires after ``ttl_s`` if its holder dies.
        """

    def renew_lock(self, key: str, *, ttl_s: float) -> bool:
        """Extend the lock this backend holds for ``key`` to ``ttl_s`` from now.

        Called by :class:`TokenCache` every ``ttl_s / 3`` while it holds the lock and
        fetches. Extend only a lock that is still ours (compare before extending).
        Default: nothing to renew (locks freed by their holder's death, like ``flock``).

        Returns:
            ``False`` when the lock is no longer ours (it lapsed and someone took it).

        Raises:
            CacheError: the backend is unavailable (the next beat tries again).
        """
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Default: nothing to do."""
