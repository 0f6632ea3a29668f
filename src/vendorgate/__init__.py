"""vendorgate: OAuth 2.0 machine-to-machine tokens for vendor APIs in Airflow and Prefect.

The public API is re-exported here from private modules. Names are imported lazily on
first access, so ``import vendorgate`` (and an Airflow DAG file that imports it at parse
time) does not load httpx, hvac, cryptography or PyJWT.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vendorgate._errors import (
    APIError,
    AuthenticationError,
    BadResponseError,
    CacheError,
    ConfigurationError,
    KeyFormatError,
    PermissionDeniedError,
    RateLimitError,
    SecretError,
    SecretNotFoundError,
    SecretReferenceError,
    ServerError,
    TokenError,
    TokenRequestError,
    TokenResponseError,
    TokenValidationError,
    TransportError,
    UnknownPresetError,
    VaultAuthError,
    VaultError,
    VaultPermissionError,
    VaultUnavailableError,
    VendorgateError,
)
from vendorgate._secret import Secret

__version__ = "0.1.0"

# name -> module that defines it; resolved on first attribute access.
_LAZY: dict[str, str] = {
    "Token": "vendorgate.tokens",
    "TokenSource": "vendorgate.tokens",
}

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadResponseError",
    "CacheError",
    "ConfigurationError",
    "KeyFormatError",
    "PermissionDeniedError",
    "RateLimitError",
    "Secret",
    "SecretError",
    "SecretNotFoundError",
    "SecretReferenceError",
    "ServerError",
    "TokenError",
    "TokenRequestError",
    "TokenResponseError",
    "TokenValidationError",
    "TransportError",
    "UnknownPresetError",
    "VaultAuthError",
    "VaultError",
    "VaultPermissionError",
    "VaultUnavailableError",
    "VendorgateError",
    "__version__",
    *_LAZY,
]

if TYPE_CHECKING:
    from vendorgate.tokens import Token, TokenSource


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vendorgate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
