"""The vendor sandbox: five vendor token dialects and a paginated data API on 127.0.0.1.

Example:
    >>> from vendorgate.testing.sandbox import VendorSandbox
    >>> with VendorSandbox(dataset_size=10) as sb:
    ...     sb.token_url("tci").endswith("/tci/auth/token")
    True
"""

from __future__ import annotations

from vendorgate.testing.sandbox._clients import (
    AUDIENCES,
    DEFAULT_LIFETIMES_S,
    TOKEN_PATHS,
    VENDORS,
    vendor_for,
)
from vendorgate.testing.sandbox._faults import Counters, Faults
from vendorgate.testing.sandbox._server import VendorSandbox

__all__ = [
    "AUDIENCES",
    "DEFAULT_LIFETIMES_S",
    "TOKEN_PATHS",
    "VENDORS",
    "Counters",
    "Faults",
    "VendorSandbox",
    "vendor_for",
]
