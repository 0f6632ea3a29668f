"""vendorgate.testing: offline test servers (vendor sandbox, OpenBao) shipped with the package.

Names are imported lazily so that ``import vendorgate.testing`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["OpenBaoServer", "VendorSandbox"]

# Public name -> module that defines it (extend this map; keep imports lazy).
_LAZY: dict[str, str] = {
    "OpenBaoServer": "vendorgate.testing.openbao",
    "VendorSandbox": "vendorgate.testing.sandbox",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vendorgate.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
