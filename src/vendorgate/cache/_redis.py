"""A store and a lock in Redis: Lua compare-and-delete, SET NX PX lock with an owner token."""

from __future__ import annotations

import secrets
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from vendorgate._errors import CacheError, ConfigurationError
from vendorgate._token import MAX_TOKEN_LIFETIME_S
from vendorgate.cache._base import CacheBackend, RefreshLock, TokenStore
from vendorgate.cache._codec import decode_entry, encode_entry, storage_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from vendorgate._token import Token

__all__ = ["RedisBackend", "RedisLock", "RedisStore", "mask_url"]

# Delete KEYS[1] only if its JSON entry carries fingerprint ARGV[1].
_DELETE_IF_FP = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, entry = pcall(cjson.decode, raw)
if (not ok) or type(entry) ~= 'table' or entry['fp'] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ok and type(entry) == 'table' then return 1 end
end
return 0
"""

# Extend lock KEYS[1] to ARGV[2] ms only if we still own it (value ARGV[1]).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# Release lock KEYS[1] only if we still own it (value ARGV[1]).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class _RedisConnection:
    """Tokens and locks in Redis, shared by every process and host that reaches the server.

    Entries expire with their token (``PX``). The refresh lock is ``SET lock <owner> NX
    PX ttl``: it expires on its own if the holder dies, is renewed while the holder
    fetches (``renew``, a Lua compare-and-``PEXPIRE``) and is released (like
    invalidation) by a Lua script that compares before it deletes. Needs the ``redis``
    extra (``pip install vendorgate[redis]``).

    Entries hold access tokens and, unless the cache has ``store_refresh_tokens=False``,
    refresh and id tokens: protect the server with AUTH/ACL and use TLS (``rediss://``).

    Args:
        url: A ``redis://`` or ``rediss://`` URL, e.g. ``redis://127.0.0.1:6379/0``. Put
            a password in the URL only through a secret reference at the adapter level.
        prefix: Prefix of every key.
        socket_timeout_s: Connect and read timeout; a down server fails fast and the
            cache degrades to memory.
        client: An existing ``redis.Redis`` client to use instead of ``url``.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL, or the extra is not installed.
    """

    name = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "vendorgate:token-cache:",
        socket_timeout_s: float = 2.0,
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError(
                "must be a non-empty key prefix, e.g. 'vendorgate:token-cache:'", field="prefix"
            )
        if (
            isinstance(socket_timeout_s, bool)
            or not isinstance(socket_timeout_s, (int, float))
            or socket_timeout_s <= 0
        ):
            raise ConfigurationError("must be a number of seconds > 0", field="socket_timeout_s")
        if client is None:
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigurationError(
                    "must be a redis://host:port/db URL (or pass client=)", field="url"
                )
            try:
                import redis
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ConfigurationError(
                    "the Redis backend needs the redis extra: pip install 'vendorgate[redis]'",
                    field="url",
                ) from exc
            try:
                client = redis.Redis.from_url(
                    url,
                    socket_timeout=socket_timeout_s,
                    socket_connect_timeout=socket_timeout_s,
                )
            except ValueError:
                # The parser's message may quote parts of the URL: never show them.
                raise ConfigurationError(
                    f"{mask_url(url)} is not a valid Redis URL; use redis://[:password@]host:port/db",
                    field="url",
                ) from None
        self._client = client
        self._shown_url = mask_url(url) if isinstance(url, str) else "client"
        self.prefix = prefix
        self._clock = clock
        self._delete_if = client.register_script(_DELETE_IF_FP)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        # Owner value of each lock this backend currently holds (lock name -> owner).
        self._owners: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._shown_url!r}, prefix={self.prefix!r})"

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise CacheError(
                f"Redis {what} failed ({type(exc).__name__}); check that the server is up "
                "and the URL is right"
            ) from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class RedisStore(_RedisConnection, TokenStore):
    """The token store of :class:`RedisBackend` alone: entries with ``PX`` expiry.

    Its compare-before-delete is one Lua script, atomic in Redis. Arguments as
    :class:`RedisBackend`.
    """

    name = "redis"
    atomic_delete = True

    def get(self, key: str) -> Token | None:
        """Return the stored token, or ``None`` when absent, expired or corrupt."""
        raw = self._call("GET", self._client.get, self.prefix + storage_name(key))
        token = decode_entry(raw, backend=self.name)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def set(self, key: str, token: Token) -> None:
        """Store the entry with a ``PX`` expiry equal to the token's remaining life.

        The expiry is clamped to :data:`~vendorgate.tokens.MAX_TOKEN_LIFETIME_S` (a token
        claiming more, or an infinite life, still expires in Redis); a token whose
        expiry is not a number (NaN) is not stored.
        """
        remaining = token.remaining_s(self._clock())
        if not remaining > 0:  # expired, or NaN
            return
        remaining_ms = int(min(remaining, MAX_TOKEN_LIFETIME_S) * 1000)
        if remaining_ms <= 0:
            return
        self._call(
            "SET",
            self._client.set,
            self.prefix + storage_name(key),
            encode_entry(token),
            px=remaining_ms,
        )

    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Delete the entry atomically (Lua) only if it holds the token with ``fingerprint``."""
        done = self._call(
            "EVALSHA", self._delete_if, keys=[self.prefix + storage_name(key)], args=[fingerprint]
        )
        return bool(done)


class RedisLock(_RedisConnection, RefreshLock):
    """The refresh lock of :class:`RedisBackend` alone: ``SET NX PX`` with an owner token.

    It lapses ``ttl_s`` after its holder died and is renewed while the holder fetches.
    Arguments as :class:`RedisBackend`.
    """

    name = "redis"
    renews = True

    def _lock_name(self, key: str) -> str:
        return self.prefix + storage_name(key) + ":lock"

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        """Hold ``SET NX PX`` on the key's lock; it expires after ``ttl_s`` if we die."""
        name = self._lock_name(key)
        owner = secrets.token_hex(16)
        ttl_ms = max(int(ttl_s * 1000), 1)
        deadline = time.monotonic() + wait_s
        delay = 0.005
        held = False
        while True:
            if self._call("SET NX", self._client.set, name, owner, nx=True, px=ttl_ms):
                held = True
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        if held:
            self._owners[name] = owner
        try:
            yield held
        finally:
            if held:
                if self._owners.get(name) == owner:
                    del self._owners[name]
                self._call("EVALSHA", self._release, keys=[name], args=[owner])

    def renew(self, key: str, *, ttl_s: float) -> bool:
        """Extend the held lock to ``ttl_s`` from now, only if it is still ours (Lua)."""
        name = self._lock_name(key)
        owner = self._owners.get(name)
        if owner is None:
            return False
        ttl_ms = max(int(ttl_s * 1000), 1)
        return bool(self._call("EVALSHA", self._renew, keys=[name], args=[owner, ttl_ms]))


class RedisBackend(RedisStore, RedisLock, CacheBackend):
    """:class:`RedisStore` and :class:`RedisLock` on one connection pool (``TokenCache(backend)``).

    Entries expire with their token (``PX``). The refresh lock is ``SET lock <owner> NX
    PX ttl``: it expires on its own if the holder dies, is renewed while the holder
    fetches (a Lua compare-and-``PEXPIRE``) and is released (like invalidation) by a Lua
    script that compares before it deletes. Needs the ``redis`` extra
    (``pip install vendorgate[redis]``).

    Args:
        url: A ``redis://`` or ``rediss://`` URL, e.g. ``redis://127.0.0.1:6379/0``.
        prefix: Prefix of every key.
        socket_timeout_s: Connect and read timeout; a down server fails fast and the
            cache degrades to memory.
        client: An existing ``redis.Redis`` client to use instead of ``url``.
        clock: Returns the current epoch time (tests inject a fake one).

    Raises:
        ConfigurationError: ``url`` is not a Redis URL, or the extra is not installed.
    """

    name = "redis"
    renews = True

    def renew_lock(self, key: str, *, ttl_s: float) -> bool:
        """Former name of :meth:`renew`."""
        return RedisLock.renew(self, key, ttl_s=ttl_s)

    def renew(self, key: str, *, ttl_s: float) -> bool:
        """Extend the held lock to ``ttl_s`` from now, only if it is still ours (Lua)."""
        return RedisLock.renew(self, key, ttl_s=ttl_s)


def mask_url(url: str) -> str:
    """``url`` with its password (and a user name alone) replaced by ``***``, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "<unparsable URL>"
    if "@" not in netloc:
        return url
    userinfo, _, hostport = netloc.rpartition("@")
    user, sep, _ = userinfo.partition(":")
    shown = f"{user}:***" if sep else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))
