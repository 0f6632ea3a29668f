"""Test helpers shipped with vendorgate: a vendor sandbox and a real OpenBao server.

Names are imported lazily, so ``import vendorgate.testing`` stays cheap (Airflow parses
DAG files often).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vendorgate.testing.openbao import OpenBaoServer
    from vendorgate.testing.sandbox import Counters, Faults, VendorSandbox

__all__ = ["Counters", "Faults", "OpenBaoServer", "VendorSandbox"]

# Public name -> module that defines it. Extend this map to export more helpers.
_LAZY: dict[str, str] = {
    "Counters": "vendorgate.testing.sandbox",
    "Faults": "vendorgate.testing.sandbox",
    "OpenBaoServer": "vendorgate.testing.openbao",
    "VendorSandbox": "vendorgate.testing.sandbox",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
