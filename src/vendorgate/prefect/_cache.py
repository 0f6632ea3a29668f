"""The token cache in Prefect's own store: block documents and a global concurrency limit.

* :class:`PrefectBlockStore` keeps one :class:`~vendorgate.prefect.TokenCacheEntry` block
  document per token. The entry sits in a ``SecretStr`` field: the server stores block
  documents Fernet-encrypted (``PREFECT_SERVER_ENCRYPTION_KEY``) and its API shows the
  field as ``********`` unless secrets are asked for. A document is created once (a full
  ``save()``) and then patched (about 25 ms). Its name is derived from the token
  request's non-secret identity (the cache key). Variables (plain JSON everywhere),
  task results and task caching (plain pickles in result storage) are not used.
* :class:`PrefectConcurrencyLock` makes a token refresh single-flight across workers
  through a global concurrency limit of 1 per key, created when missing, acquired with
  ``strict=True`` (a missing limit is an error, never "no lock"). Prefect renews the
  slot's lease while the holder fetches; a killed holder blocks the others until its
  lease (``lease_duration_s``, at least 60 s) lapses.

Prefect API errors become :class:`~vendorgate.CacheError`: the token cache then works
from its memory level with one warning.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from vendorgate._errors import CacheError, ConfigurationError
from vendorgate.cache import RefreshLock, TokenStore, decode_entry, encode_entry, storage_name
from vendorgate.prefect._compat import run_sync

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from uuid import UUID

    from vendorgate.tokens import Token

__all__ = ["PrefectBlockStore", "PrefectConcurrencyLock", "block_document_name", "limit_name"]

log = logging.getLogger("vendorgate.cache")

_SLUG_RE = re.compile(r"[^a-z0-9-]+")
#: Shortest wait for a slot: an acquisition is an API round trip, queued by Prefect.
MIN_WAIT_S = 2.0


def _label(key: str) -> str:
    """The vendor part of a cache key (``vendorgate:token:<vendor>:<digest>``), as a slug."""
    parts = key.split(":")
    vendor = parts[2] if len(parts) >= 4 and parts[0] == "vendorgate" else "token"
    return _SLUG_RE.sub("-", vendor.lower()).strip("-")[:24] or "token"


def block_document_name(key: str) -> str:
    """The block document name of a cache key: readable, stable, never from a secret."""
    return f"vendorgate-{_label(key)}-{storage_name(key)[:24]}"


def limit_name(key: str) -> str:
    """The global concurrency limit name of a cache key."""
    return f"vendorgate-token-{_label(key)}-{storage_name(key)[:24]}"


def _prefect_errors() -> tuple[type[BaseException], ...]:
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    return (httpx.HTTPError, PrefectHTTPStatusError, OSError, RuntimeError)


class PrefectBlockStore(TokenStore):
    """Tokens in block documents of type ``vendorgate-token-cache-entry``.

    Its ``delete_if`` reads, compares and patches in three steps (the Prefect API has no
    compare-and-set), so it declares ``atomic_delete = False``: the token cache then
    deletes only while it holds the refresh lock.

    Registered as the ``prefect-block`` store: ``{"store": {"backend": "prefect-block"},
    "lock": {"backend": "prefect-gcl"}}`` in cache options.

    Args:
        clock: Returns the current epoch time (an expired entry is a miss).
    """

    name: str = "prefect-block"
    atomic_delete: ClassVar[bool] = False

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        from vendorgate.prefect._compat import CapturedSettings

        self._ids: dict[str, UUID] = {}
        self._guard = threading.Lock()
        self._clock = clock
        self._settings = CapturedSettings()

    def __repr__(self) -> str:
        return "PrefectBlockStore()"

    # -- TokenStore interface ---------------------------------------------------------

    def get(self, key: str) -> Token | None:
        """The stored token, or ``None`` when absent, invalidated or unreadable."""
        doc = self._read(block_document_name(key))
        if doc is None:
            return None
        raw = _entry_text(doc.data.get("entry"))
        if not raw:
            return None
        token = decode_entry(raw, backend=self.name)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def set(self, key: str, token: Token) -> None:
        """Store ``token``: patch the key's document, creating it the first time."""
        self._write(block_document_name(key), encode_entry(token))

    def _write(self, name: str, text: str) -> None:
        doc_id = self._ids.get(name)
        if doc_id is None:
            doc = self._read(name)
            if doc is None:
                self._create(name, text)
                return
            doc_id = self._remember(name, doc.id)
        if not self._patch(doc_id, text):
            # deleted meanwhile (by hand): create it again
            self._ids.pop(name, None)
            self._create(name, text)

    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Empty the key's entry if it still holds the token with this fingerprint."""
        name = block_document_name(key)
        doc = self._read(name)
        if doc is None:
            return False
        raw = _entry_text(doc.data.get("entry"))
        current = decode_entry(raw, backend=self.name) if raw else None
        if current is None or current.fingerprint != fingerprint:
            return False
        self._remember(name, doc.id)
        return self._patch(doc.id, "")

    def close(self) -> None:
        """Nothing to release (each call opens a short-lived API client)."""

    # -- Prefect API ------------------------------------------------------------------

    def _remember(self, name: str, doc_id: UUID) -> UUID:
        with self._guard:
            self._ids[name] = doc_id
        return doc_id

    def _read(self, name: str) -> Any:
        from prefect.client.orchestration import get_client
        from prefect.exceptions import ObjectNotFound

        from vendorgate.prefect._blocks import TokenCacheEntry

        try:
            with self._settings(), get_client(sync_client=True) as client:
                return client.read_block_document_by_name(
                    name, TokenCacheEntry.get_block_type_slug(), include_secrets=True
                )
        except ObjectNotFound:
            return None
        except _prefect_errors() as exc:
            raise CacheError(
                f"prefect-block: reading the token entry failed ({_why(exc)})"
            ) from None

    def _patch(self, doc_id: UUID, text: str) -> bool:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import BlockDocumentUpdate
        from prefect.exceptions import ObjectNotFound

        try:
            with self._settings(), get_client(sync_client=True) as client:
                client.update_block_document(
                    doc_id, BlockDocumentUpdate(data={"entry": text}, merge_existing_data=False)
                )
        except ObjectNotFound:
            return False
        except _prefect_errors() as exc:
            raise CacheError(
                f"prefect-block: writing the token entry failed ({_why(exc)})"
            ) from None
        return True

    def _create(self, name: str, text: str) -> None:
        from pydantic import SecretStr

        from vendorgate.prefect._blocks import TokenCacheEntry

        try:
            with self._settings():
                entry = TokenCacheEntry(entry=SecretStr(text))
                doc_id = run_sync(entry.save, name, overwrite=False)
        except ValueError:
            # created by another worker meanwhile ("already in use"): patch that one
            doc = self._read(name)
            if doc is None:
                raise CacheError("prefect-block: creating the token entry failed") from None
            self._patch(self._remember(name, doc.id), text)
            return
        except _prefect_errors() as exc:
            raise CacheError(
                f"prefect-block: creating the token entry failed ({_why(exc)})"
            ) from None
        self._remember(name, doc_id)


def _entry_text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return value if isinstance(value, str) else ""


def _why(exc: BaseException) -> str:
    """An error's class and HTTP status, never its text (it may echo request data)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return f"{type(exc).__name__}, HTTP {status}" if status else type(exc).__name__


class PrefectConcurrencyLock(RefreshLock):
    """A cross-worker refresh lock: one global concurrency limit of 1 per cache key.

    The limit is created on first use if missing (and must have a limit of 1 and be
    active: anything else is refused, never treated as "no lock"). Acquisition uses
    ``strict=True``; Prefect renews the slot's lease in the background while the token
    is fetched. A holder that dies keeps the slot until its lease lapses
    (``lease_duration_s``): the others wait that long, then fetch.

    Registered as the ``prefect-gcl`` lock.

    Args:
        lease_duration_s: Lease of a held slot, in seconds (Prefect's minimum is 60).
    """

    name: str = "prefect-gcl"
    #: Prefect renews a held slot's lease itself (in a thread, every 3/4 of the lease):
    #: the token cache has nothing to renew.
    renews: ClassVar[bool] = False

    def __init__(self, *, lease_duration_s: float = 60.0) -> None:
        if isinstance(lease_duration_s, bool) or not (
            isinstance(lease_duration_s, (int, float)) and lease_duration_s >= 60
        ):
            raise ConfigurationError(
                "must be at least 60 seconds (Prefect's minimum lease)", field="lease_duration_s"
            )
        from vendorgate.prefect._compat import CapturedSettings

        self.lease_duration_s = float(lease_duration_s)
        self._ready: set[str] = set()
        self._settings = CapturedSettings()

    def __repr__(self) -> str:
        return f"PrefectConcurrencyLock(lease_duration_s={self.lease_duration_s:g})"

    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> AbstractContextManager[bool]:
        """Hold the key's global concurrency slot; ``False`` if not obtained in ``wait_s``
        (at least :data:`MIN_WAIT_S`)."""
        return self._lock(limit_name(key), wait_s)

    def renew(self, key: str, *, ttl_s: float) -> bool:
        """Nothing to do: Prefect renews the lease of a held slot itself."""
        return True

    def close(self) -> None:
        """Nothing to release."""

    def ensure_limit(self, name: str) -> None:
        """Create the global concurrency limit ``name`` (limit 1) unless it exists."""
        if name in self._ready:
            return
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
        from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

        try:
            with self._settings(), get_client(sync_client=True) as client:
                try:
                    limit = client.read_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    try:
                        client.create_global_concurrency_limit(
                            GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                        )
                    except ObjectAlreadyExists:
                        pass  # another worker created it meanwhile
                    else:
                        log.info("token cache: created global concurrency limit %s", name)
                    limit = client.read_global_concurrency_limit_by_name(name)
        except _prefect_errors() as exc:
            raise CacheError(
                f"prefect-gcl: reading the concurrency limit failed ({_why(exc)})"
            ) from None
        if limit.limit != 1 or not limit.active:
            raise CacheError(
                f"prefect-gcl: global concurrency limit {name} must be active with limit 1 "
                f"(it has limit {limit.limit}, active={limit.active}); fix or delete it"
            )
        self._ready.add(name)

    @contextlib.contextmanager
    def _lock(self, name: str, wait_s: float) -> Iterator[bool]:
        # Settings are entered around each API step, never across the yield: the token
        # cache may enter and exit this lock in different threads.
        cm = self._acquire(name, wait_s)
        if cm is None:
            yield False
            return
        try:
            yield True
        finally:
            try:
                with self._settings():
                    cm.__exit__(None, None, None)
            except _prefect_errors() as exc:
                raise CacheError(f"prefect-gcl: releasing the lock failed ({_why(exc)})") from None

    def _acquire(self, name: str, wait_s: float) -> AbstractContextManager[None] | None:
        from prefect.concurrency.sync import concurrency

        with self._settings():
            self.ensure_limit(name)
            cm: AbstractContextManager[None] = concurrency(
                name,
                occupy=1,
                # at least one acquisition round trip, even on a busy server
                timeout_seconds=max(wait_s, MIN_WAIT_S),
                lease_duration=self.lease_duration_s,
                strict=True,
                raise_on_lease_renewal_failure=False,
            )
            try:
                cm.__enter__()
            except TimeoutError:
                return None
            except _prefect_errors() as exc:
                raise CacheError(f"prefect-gcl: acquiring the lock failed ({_why(exc)})") from None
            except Exception as exc:  # ConcurrencySlotAcquisitionError: the limit vanished
                self._ready.discard(name)
                raise CacheError(f"prefect-gcl: acquiring the lock failed ({_why(exc)})") from None
        return cm
