"""vendorgate's Prefect collection: blocks, tasks and a token cache in Prefect's own store.

Blocks: :class:`VaultConnection`, :class:`VendorCredentials`, :class:`VendorApi` (and
:class:`TokenCacheEntry`, written by the token cache). Register them with
``prefect block register -m vendorgate.prefect``; a Prefect server started next to the
package registers them itself (``prefect.collections`` entry point).

Tasks: :func:`call_vendor_api`, :func:`extract_vendor_data` and their async twins
:func:`acall_vendor_api`, :func:`aextract_vendor_data`.

Token cache: :class:`PrefectBlockStore` (one encrypted block document per token) and
:class:`PrefectConcurrencyLock` (a global concurrency limit of 1 as the refresh lock),
the ``VendorApi`` default. Secret references may name a Prefect ``Secret`` block:
``prefect-secret:BLOCK``.

Incremental pulls (``extract_vendor_data(..., incremental={...})``) keep their
high-water marks in Prefect Variables: :class:`PrefectVariableStateStore`.

This is the only package of vendorgate that imports ``prefect``.
"""

from __future__ import annotations

from vendorgate.cache import register_lock, register_store
from vendorgate.prefect._blocks import (
    TokenCacheEntry,
    VaultConnection,
    VendorApi,
    VendorCredentials,
)
from vendorgate.prefect._cache import PrefectBlockStore, PrefectConcurrencyLock
from vendorgate.prefect._secrets import resolve_prefect_secret
from vendorgate.prefect._state import PrefectVariableStateStore
from vendorgate.prefect._tasks import (
    acall_vendor_api,
    aextract_vendor_data,
    call_vendor_api,
    extract_vendor_data,
    forward_vendorgate_logs,
    retry_on_vendor_failure,
)
from vendorgate.secrets import register_secret_scheme

# Cache options {"store": {"backend": "prefect-block"}, "lock": {"backend": "prefect-gcl"}}.
register_store("prefect-block", "vendorgate.prefect._cache:PrefectBlockStore")
register_lock("prefect-gcl", "vendorgate.prefect._cache:PrefectConcurrencyLock")

# "prefect-secret:BLOCK[#key]": a value held in a Prefect Secret block (imported on use).
register_secret_scheme(
    "prefect-secret",
    "vendorgate.prefect._secrets:resolve_prefect_secret",
    form="prefect-secret:<BLOCK>[#<key>]",
)

__all__ = [
    "PrefectBlockStore",
    "PrefectConcurrencyLock",
    "PrefectVariableStateStore",
    "TokenCacheEntry",
    "VaultConnection",
    "VendorApi",
    "VendorCredentials",
    "acall_vendor_api",
    "aextract_vendor_data",
    "call_vendor_api",
    "extract_vendor_data",
    "forward_vendorgate_logs",
    "resolve_prefect_secret",
    "retry_on_vendor_failure",
]
