"""Test helpers shipped with vendorgate: a vendor sandbox, a real OpenBao server, a
secret-leak scanner (:mod:`vendorgate.testing.leaks`) and the contract suite of token
stores and refresh locks (:mod:`vendorgate.testing.cache_contract`).

Names are imported lazily, so ``import vendorgate.testing`` stays cheap (Airflow parses
DAG files often).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate._lazy import lazy_exports

if TYPE_CHECKING:
    from vendorgate.testing.cache_contract import LockContract, PairContract, StoreContract
    from vendorgate.testing.leaks import Leak, LeakFound, LeakScanner
    from vendorgate.testing.openbao import OpenBaoServer
    from vendorgate.testing.sandbox import Counters, Faults, VendorSandbox

__all__ = [
    "Counters",
    "Faults",
    "Leak",
    "LeakFound",
    "LeakScanner",
    "LockContract",
    "OpenBaoServer",
    "PairContract",
    "StoreContract",
    "VendorSandbox",
]

# Public name -> module that defines it. Extend this map to export more helpers.
_LAZY: dict[str, str] = {
    "Counters": "vendorgate.testing.sandbox",
    "Faults": "vendorgate.testing.sandbox",
    "Leak": "vendorgate.testing.leaks",
    "LeakFound": "vendorgate.testing.leaks",
    "LeakScanner": "vendorgate.testing.leaks",
    "LockContract": "vendorgate.testing.cache_contract",
    "PairContract": "vendorgate.testing.cache_contract",
    "StoreContract": "vendorgate.testing.cache_contract",
    "OpenBaoServer": "vendorgate.testing.openbao",
    "VendorSandbox": "vendorgate.testing.sandbox",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
