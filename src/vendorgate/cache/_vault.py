"""A shared level in Vault KV v2: check-and-set writes and a CAS lease as the lock."""

from __future__ import annotations

import secrets
import time
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from vendorgate._errors import CacheError, ConfigurationError
from vendorgate.cache._base import CacheBackend
from vendorgate.cache._codec import decode_entry, entry_dict, storage_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from vendorgate._token import Token

__all__ = ["VaultKVBackend"]

_T = TypeVar("_T")

# Marks a deleted entry or a free lease: KV v2 has no compare-and-delete, so a
# delete is a check-and-set write of a tombstone.
_TOMBSTONE: dict[str, Any] = {"v": 0}


class _CasConflict(Exception):
    """Someone else wrote the path between our read and our write."""


class VaultKVBackend(CacheBackend):
    """Tokens in Vault KV v2, shared by every worker that already talks to Vault.

    Every write is a check-and-set on the version just read, so two workers never
    overwrite each other blindly; invalidation writes a tombstone with check-and-set
    (compare-before-delete); the refresh lock is a *lease* (``owner`` and ``until``)
    taken with check-and-set at ``<prefix>/<hash>-lock`` and free again once ``until``
    has passed, so a dead holder's lease expires after ``ttl_s`` (mind clock skew
    between hosts: keep ``lock_ttl_s`` well above it). A live holder extends its lease
    with :meth:`renew_lock` (check-and-set again) while it fetches. A lease that cannot
    be read as one (corrupt ``until``) counts as free.

    The identity needs ``create``, ``read`` and ``update`` on
    ``<mount>/data/<prefix>/*``.

    Args:
        session: A :class:`vendorgate.secrets.VaultSession` (preferred: one login per
            process) or a logged-in ``hvac.Client``.
        mount: KV v2 mount point.
        prefix: Path under the mount where entries and leases live.
        clock: Returns the current epoch time (tests inject a fake one).

    Raises:
        ConfigurationError: ``mount`` or ``prefix`` is empty.
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
        if not mount or not mount.strip("/"):
            raise ConfigurationError("must name a KV v2 mount, e.g. 'secret'", field="mount")
        if not prefix or not prefix.strip("/"):
            raise ConfigurationError(
                "must be a path under the mount, e.g. 'vendorgate/token-cache'", field="prefix"
            )
        self._session = session
        self.mount = mount.strip("/")
        self.prefix = prefix.strip("/")
        self._clock = clock
        # Owner of each lease this backend currently holds (lease path -> owner).
        self._owners: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"VaultKVBackend(mount={self.mount!r}, prefix={self.prefix!r})"

    # -- low level ----------------------------------------------------------------------

    def _client(self) -> Any:
        session = self._session
        if callable(getattr(session, "client", None)):
            try:
                return session.client()
            except Exception as exc:  # VaultError from the session: login failed
                raise CacheError(
                    f"Vault login for the token cache failed ({type(exc).__name__})"
                ) from exc
        return session

    def _run(self, what: str, fn: Callable[[Any], _T]) -> _T:
        import hvac.exceptions as hv

        client = self._client()
        try:
            return fn(client)
        except hv.InvalidRequest as exc:
            raise CacheError(f"Vault {what} was refused (400); check mount and prefix") from exc
        except hv.Forbidden as exc:
            raise CacheError(
                f"Vault {what} is not allowed by policy; grant create/read/update on "
                f"{self.mount}/data/{self.prefix}/*"
            ) from exc
        except hv.VaultError as exc:
            raise CacheError(f"Vault {what} failed ({type(exc).__name__})") from exc
        except Exception as exc:  # requests' connection errors and timeouts
            raise CacheError(
                f"Vault {what} failed ({type(exc).__name__}); is Vault reachable and unsealed?"
            ) from exc

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

            if not isinstance(exc.__cause__, hv.InvalidRequest):
                raise
            # A 400 on a CAS write: if the version moved, someone else won the race
            # (decided from the version, not from the error text).
            version, _ = self._read(path)
            if version != cas:
                raise _CasConflict() from exc
            raise

    def _entry_path(self, key: str) -> str:
        return f"{self.prefix}/{storage_name(key)}"

    # -- CacheBackend -------------------------------------------------------------------

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
        """Write a tombstone with check-and-set, only if the entry holds ``fingerprint``."""
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

    def renew_lock(self, key: str, *, ttl_s: float) -> bool:
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
