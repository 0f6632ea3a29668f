"""vendorgate: OAuth 2.0 machine-to-machine tokens for vendor APIs in Airflow and Prefect.

The public API is re-exported here from private modules. Names are imported lazily on
first access, so ``import vendorgate`` (and an Airflow DAG file that imports it at parse
time) does not load httpx, hvac, cryptography or PyJWT.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from vendorgate._errors import (
    APIError,
    APITransportError,
    AuthenticationError,
    BadResponseError,
    CacheError,
    ConfigurationError,
    KeyFormatError,
    OutputBusyError,
    PermissionDeniedError,
    RateLimitError,
    ReplyDetails,
    SecretError,
    SecretNotFoundError,
    SecretReferenceError,
    ServerError,
    TokenError,
    TokenRequestError,
    TokenResponseError,
    TokenTransportError,
    TokenValidationError,
    TransportError,
    UnknownPresetError,
    VaultAuthError,
    VaultError,
    VaultPermissionError,
    VaultTransportError,
    VaultUnavailableError,
    VendorgateError,
)
from vendorgate._lazy import lazy_exports
from vendorgate._secret import Secret

__version__ = "0.1.0"

# A library leaves logging configuration to the application (Python logging HOWTO).
logging.getLogger("vendorgate").addHandler(logging.NullHandler())

# name -> module that defines it; resolved on first attribute access.
_LAZY: dict[str, str] = {
    # dialects and presets
    "Dialect": "vendorgate.dialects",
    "get_dialect": "vendorgate.dialects",
    "list_dialects": "vendorgate.dialects",
    # secrets and Vault
    "SecretResolver": "vendorgate.secrets",
    "VaultSession": "vendorgate.secrets",
    "VaultSettings": "vendorgate.secrets",
    "parse_secret_ref": "vendorgate.secrets",
    # client assertions
    "PemSigner": "vendorgate.signing",
    "TransitSigner": "vendorgate.signing",
    "build_client_assertion": "vendorgate.signing",
    # tokens
    "Token": "vendorgate._token",
    "TokenConfig": "vendorgate.tokens",
    "TokenProvider": "vendorgate.tokens",
    "TokenSource": "vendorgate.tokens",
    # the shared cache
    "CacheBackend": "vendorgate.cache",
    "FileBackend": "vendorgate.cache",
    "RedisBackend": "vendorgate.cache",
    "TokenCache": "vendorgate.cache",
    "VaultKVBackend": "vendorgate.cache",
    # the API client
    "AsyncVendorClient": "vendorgate.http",
    "CursorInBody": "vendorgate.http",
    "LinkHeader": "vendorgate.http",
    "NextUrlInBody": "vendorgate.http",
    "OffsetLimit": "vendorgate.http",
    "PageNumber": "vendorgate.http",
    "RateLimit": "vendorgate.http",
    "RetryPolicy": "vendorgate.http",
    "VendorClient": "vendorgate.http",
    # the connection spec
    "VendorConnection": "vendorgate.connection",
}

__all__ = [
    "APIError",
    "APITransportError",
    "AsyncVendorClient",
    "AuthenticationError",
    "BadResponseError",
    "CacheBackend",
    "CacheError",
    "ConfigurationError",
    "CursorInBody",
    "Dialect",
    "FileBackend",
    "KeyFormatError",
    "LinkHeader",
    "NextUrlInBody",
    "OffsetLimit",
    "OutputBusyError",
    "PageNumber",
    "PemSigner",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RedisBackend",
    "ReplyDetails",
    "RetryPolicy",
    "Secret",
    "SecretError",
    "SecretNotFoundError",
    "SecretReferenceError",
    "SecretResolver",
    "ServerError",
    "Token",
    "TokenCache",
    "TokenConfig",
    "TokenError",
    "TokenProvider",
    "TokenRequestError",
    "TokenResponseError",
    "TokenSource",
    "TokenTransportError",
    "TokenValidationError",
    "TransitSigner",
    "TransportError",
    "UnknownPresetError",
    "VaultAuthError",
    "VaultError",
    "VaultKVBackend",
    "VaultPermissionError",
    "VaultSession",
    "VaultSettings",
    "VaultTransportError",
    "VaultUnavailableError",
    "VendorClient",
    "VendorConnection",
    "VendorgateError",
    "__version__",
    "build_client_assertion",
    "get_dialect",
    "list_dialects",
    "parse_secret_ref",
]

if TYPE_CHECKING:
    from vendorgate.cache import (
        CacheBackend,
        FileBackend,
        RedisBackend,
        TokenCache,
        VaultKVBackend,
    )
    from vendorgate.connection import VendorConnection
    from vendorgate.dialects import Dialect, get_dialect, list_dialects
    from vendorgate.http import (
        AsyncVendorClient,
        CursorInBody,
        LinkHeader,
        NextUrlInBody,
        OffsetLimit,
        PageNumber,
        RateLimit,
        RetryPolicy,
        VendorClient,
    )
    from vendorgate.secrets import SecretResolver, VaultSession, VaultSettings, parse_secret_ref
    from vendorgate.signing import PemSigner, TransitSigner, build_client_assertion
    from vendorgate.tokens import Token, TokenConfig, TokenProvider, TokenSource

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
