"""A store and a lock in Vault KV v2: check-and-set writes and a CAS lease as the lock."""

from __future__ import annotations

import secrets
import time
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from vendorgate._errors import CacheError, ConfigurationError
from vendorgate.cache._base import CacheBackend, RefreshLock, TokenStore
from vendorgate.cache._codec import decode_entry, entry_dict, storage_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from vendorgate._token import Token

__all__ = ["VaultKVBackend", "VaultKVStore", "VaultLeaseLock"]

_T = TypeVar("_T")

# Marks a deleted entry or a free lease: KV v2 has no compare-and-delete, so a
# delete is a check-and-set write of a tombstone.
_TOMBSTONE: dict[str, Any] = {"v": 0}


class _CasConflict(Exception):
    """Someone else wrote the path between our read and our write."""


class _VaultKV:
    """Tokens and leases in Vault KV v2, shared by every worker that already talks to Vault.

    Every write is a check-and-set on the version just read, so two workers never
    overwrite each other blindly; invalidation writes a tombstone with check-and-set
    (compare-before-delete); the refresh lock is a *lease* (``owner`` and ``until``)
    taken with check-and-set at ``<prefix>/<hash>-lock`` and free again once ``until``
    has passed, so a dead holder's lease expires after ``ttl_s`` (mind clock skew
    between hosts: keep ``lock_ttl_s`` well above it). A live holder extends its lease
    with ``renew`` (check-and-set again) while it fetches. A lease that cannot
    be read as one (corrupt ``until``) counts as free.

    The identity needs ``create``, ``read`` and ``update`` on
    ``<mount>/data/<prefix>/*``.

    Args:
        session: A :class:`vendorgate.secrets.VaultSession` (one login per process for
            secrets and cache; errors are mapped through it). A logged-in ``hvac.Client``
            is still accepted and wrapped (no re-login).
        mount: KV v2 mount point.
        prefix: Path under the mount where entries and leases live.
        clock: Returns the current epoch time (tests inject a fake one).

    Raises:
        ConfigurationError: ``mount`` or ``prefix`` is empty, or ``session`` is neither a
            ``VaultSession`` nor an ``hvac.Client``.
    """

    name = "vault"

    def __init__(
        self,
        session: Any,
        *,
        mount: str = "secret",
        prefix: str = "vendorgate/token-cache",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(mount, str) or not mount.strip("/"):
            raise ConfigurationError("must name a KV v2 mount, e.g. 'secret'", field="mount")
        if not isinstance(prefix, str) or not prefix.strip("/"):
            raise ConfigurationError(
                "must be a path under the mount, e.g. 'vendorgate/token-cache'", field="prefix"
            )
        self._session = _as_session(session)
        self.mount = mount.strip("/")
        self.prefix = prefix.strip("/")
        self._clock = clock
        # Owner of each lease this object currently holds (lease path -> owner).
        self._owners: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mount={self.mount!r}, prefix={self.prefix!r})"

    # -- low level ----------------------------------------------------------------------

    def _run(self, what: str, fn: Callable[[Any], _T]) -> _T:
        """Run one request through the session; its errors become :class:`CacheError`.

        The session maps hvac and requests errors (:func:`vendorgate.secrets.vault_error_from`)
        and logs in again once after a revoked token, like every Vault call of vendorgate;
        the original hvac error stays the ``__cause__`` of the session's error.
        """
        from vendorgate._errors import SecretError, VaultPermissionError

        action = f"{what} of the token cache at {self.mount}/{self.prefix}"
        try:
            result: _T = self._session.call(fn, action=action)
            return result
        except VaultPermissionError as exc:
            raise CacheError(
                f"{exc}; the token cache needs create, read and update on "
                f"{self.mount}/data/{self.prefix}/*"
            ) from exc
        except SecretError as exc:  # VaultError, and "nothing at the path" for a missing mount
            raise CacheError(str(exc)) from exc

    def _read(self, path: str) -> tuple[int, dict[str, Any] | None]:
        """Return ``(version, data)`` of ``path``; ``(0, None)`` when it does not exist."""
        import hvac.exceptions as hv

        def read(client: Any) -> tuple[int, dict[str, Any] | None]:
            try:
                reply = client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=self.mount, raise_on_deleted_version=False
                )
            except hv.InvalidPath:
                return 0, None
            body = reply.get("data") or {}
            version = int((body.get("metadata") or {}).get("version") or 0)
            return version, body.get("data")

        return self._run("read", read)

    def _write(self, path: str, data: dict[str, Any], *, cas: int) -> None:
        """Write with check-and-set; raise :class:`_CasConflict` when ``cas`` is stale."""
        try:
            self._run(
                "write",
                lambda client: client.secrets.kv.v2.create_or_update_secret(
                    path=path, secret=data, cas=cas, mount_point=self.mount
                ),
            )
        except CacheError as exc:
            import hvac.exceptions as hv

            # exc comes from the session's error, whose cause is hvac's
            if not isinstance(getattr(exc.__cause__, "__cause__", None), hv.InvalidRequest):
                raise
            # A 400 on a CAS write: if the version moved, someone else won the race
            # (decided from the version, not from the error text).
            version, _ = self._read(path)
            if version != cas:
                raise _CasConflict() from exc
            raise

    def _entry_path(self, key: str) -> str:
        return f"{self.prefix}/{storage_name(key)}"


class VaultKVStore(_VaultKV, TokenStore):
    """The token store of :class:`VaultKVBackend` alone: entries written with check-and-set.

    Its compare-before-delete writes a tombstone with check-and-set on the version it
    compared, so it never deletes a token a concurrent write stored. Arguments as
    :class:`VaultKVBackend`.
    """

    name = "vault"
    atomic_delete = True

    def get(self, key: str) -> Token | None:
        """Return the stored token, or ``None`` when absent, deleted, expired or corrupt."""
        _, data = self._read(self._entry_path(key))
        if not data or data.get("v") == 0:
            return None
        token = decode_entry(data, backend=self.name)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def set(self, key: str, token: Token) -> None:
        """Write the entry with check-and-set on the version just read.

        When another worker wrote in between, ours is dropped only if the stored token
        expires no earlier than ours; after a tombstone (a late invalidation), an
        expired, corrupt or older entry the write is retried (at most 3 times).
        """
        path = self._entry_path(key)
        version, _ = self._read(path)
        for _ in range(3):
            try:
                self._write(path, entry_dict(token), cas=version)
            except _CasConflict:
                # The conflicting write may be a late tombstone or an older token:
                # dropping ours would leave the shared level empty or stale.
                version, data = self._read(path)
                if not self._should_replace(data, token):
                    return
                continue
            return

    def _should_replace(self, data: dict[str, Any] | None, token: Token) -> bool:
        """Whether the stored ``data`` is gone, unreadable, expired or older than ``token``."""
        if not data or data.get("v") == 0:
            return True
        stored = decode_entry(data, backend=self.name)
        return (
            stored is None
            or stored.expires_at <= self._clock()
            or stored.expires_at < token.expires_at
        )

    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Write a tombstone with check-and-set, only if the entry holds ``fingerprint``.

        A concurrent write moves the version: the entry is read and compared again, at
        most 3 times; ``False`` when it no longer holds ``fingerprint`` or the writes
        went on.
        """
        path = self._entry_path(key)
        for _ in range(3):
            version, data = self._read(path)
            if not data or data.get("v") == 0:
                return False
            if data.get("fp") != fingerprint:
                return False
            try:
                self._write(path, _TOMBSTONE, cas=version)
            except _CasConflict:
                continue
            return True
        return False


class VaultLeaseLock(_VaultKV, RefreshLock):
    """The refresh lock of :class:`VaultKVBackend` alone: a lease taken with check-and-set.

    Free again once its ``until`` has passed (a dead holder's lease lapses after
    ``ttl_s``); renewed with check-and-set while its holder fetches. Arguments as
    :class:`VaultKVBackend`.
    """

    name = "vault"
    renews = True

    @staticmethod
    def _lease_until(data: dict[str, Any] | None) -> float:
        """When the lease in ``data`` lapses; 0 (free) when absent or unreadable."""
        if not data or not data.get("owner"):
            return 0.0
        try:
            return float(data.get("until", 0))
        except (TypeError, ValueError):
            return 0.0

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        """Hold a lease written with check-and-set; it lapses ``ttl_s`` after it was taken."""
        path = self._entry_path(key) + "-lock"
        owner = secrets.token_hex(16)
        deadline = time.monotonic() + wait_s
        delay = 0.02
        held = False
        while True:
            version, data = self._read(path)
            free = self._lease_until(data) < self._clock()
            if free:
                try:
                    self._write(path, {"owner": owner, "until": self._clock() + ttl_s}, cas=version)
                except _CasConflict:
                    pass
                else:
                    held = True
                    self._owners[path] = owner
                    break
            if time.monotonic() >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        try:
            yield held
        finally:
            if held:
                if self._owners.get(path) == owner:
                    del self._owners[path]
                version, data = self._read(path)
                if data and data.get("owner") == owner:
                    with suppress(_CasConflict):
                        self._write(path, {"owner": "", "until": 0}, cas=version)

    def renew(self, key: str, *, ttl_s: float) -> bool:
        """Extend the held lease to ``ttl_s`` from now with check-and-set, if still ours."""
        path = self._entry_path(key) + "-lock"
        owner = self._owners.get(path)
        if owner is None:
            return False
        version, data = self._read(path)
        if not data or data.get("owner") != owner:
            return False
        try:
            self._write(path, {"owner": owner, "until": self._clock() + ttl_s}, cas=version)
        except _CasConflict:
            return False
        return True


class VaultKVBackend(VaultKVStore, VaultLeaseLock, CacheBackend):
    """:class:`VaultKVStore` and :class:`VaultLeaseLock` on one session (``TokenCache(backend)``).

    Every write is a check-and-set on the version just read; invalidation writes a
    tombstone with check-and-set; the refresh lock is a lease at ``<prefix>/<hash>-lock``.
    The identity needs ``create``, ``read`` and ``update`` on ``<mount>/data/<prefix>/*``.

    Args:
        session: A :class:`vendorgate.secrets.VaultSession` (one login per process for
            secrets and cache). A logged-in ``hvac.Client`` is still accepted.
        mount: KV v2 mount point.
        prefix: Path under the mount where entries and leases live.
        clock: Returns the current epoch time (tests inject a fake one).

    Raises:
        ConfigurationError: ``mount`` or ``prefix`` is empty.
    """

    name = "vault"
    renews = True

    def renew_lock(self, key: str, *, ttl_s: float) -> bool:
        """Former name of :meth:`renew`."""
        return VaultLeaseLock.renew(self, key, ttl_s=ttl_s)

    def renew(self, key: str, *, ttl_s: float) -> bool:
        """Extend the held lease to ``ttl_s`` from now with check-and-set, if still ours."""
        return VaultLeaseLock.renew(self, key, ttl_s=ttl_s)


class _ClientSession:
    """A logged-in ``hvac.Client`` behind the ``VaultSession.call`` interface (no re-login)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def call(self, fn: Callable[[Any], _T], *, action: str) -> _T:
        from vendorgate._errors import SecretError
        from vendorgate.secrets._session import vault_error_from

        try:
            return fn(self._client)
        except SecretError:
            raise
        except Exception as exc:
            raise vault_error_from(exc, action=action) from exc


def _as_session(session: Any) -> Any:
    """The object whose ``call(fn, action=)`` runs requests: a session, or a wrapped client."""
    if callable(getattr(session, "call", None)):
        return session
    if getattr(session, "secrets", None) is not None and hasattr(session, "adapter"):
        return _ClientSession(session)
    raise ConfigurationError(
        f"must be a vendorgate.secrets.VaultSession, got {type(session).__name__}; "
        "e.g. VaultSession.shared(VaultSettings.from_env())",
        field="session",
    )
