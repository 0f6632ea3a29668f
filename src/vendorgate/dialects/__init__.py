"""Token dialects: the declarative model and the presets registry.

Example:
    >>> from vendorgate.dialects import get_dialect
    >>> get_dialect("tci-atm").lifetime_field
    'exp_access_token'
"""

from __future__ import annotations

from vendorgate.dialects._model import ASSERTION_TYPE_JWT_BEARER, Dialect, RefreshGrant
from vendorgate.dialects._registry import get_dialect, list_dialects, register

__all__ = [
    "ASSERTION_TYPE_JWT_BEARER",
    "Dialect",
    "RefreshGrant",
    "get_dialect",
    "list_dialects",
    "register",
]
