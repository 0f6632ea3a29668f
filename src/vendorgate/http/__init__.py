"""The resilient vendor API client: tokens, retries, rate limits, pagination, output.

Public names are imported lazily, so ``import vendorgate.http`` does not load httpx until
a client is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "VendorAuth": "vendorgate.http._auth",
    "VendorRequestsAuth": "vendorgate.http._requests_auth",
    "AsyncVendorClient": "vendorgate.http._client",
    "DEFAULT_TIMEOUT": "vendorgate.http._send",
    "PullResult": "vendorgate.http._pull",
    "VendorClient": "vendorgate.http._client",
    "FileStateStore": "vendorgate.http._incremental",
    "Incremental": "vendorgate.http._incremental",
    "StateStore": "vendorgate.http._incremental",
    "StateStoreError": "vendorgate.http._incremental",
    "LimitHeaders": "vendorgate.http._ratelimit",
    "parse_limit_headers": "vendorgate.http._ratelimit",
    "Checkpoint": "vendorgate.http._output",
    "Output": "vendorgate.http._output",
    "OutputWriter": "vendorgate.http._output",
    "Custom": "vendorgate.http._pagination",
    "CursorInBody": "vendorgate.http._pagination",
    "LinkHeader": "vendorgate.http._pagination",
    "NextUrlInBody": "vendorgate.http._pagination",
    "OffsetLimit": "vendorgate.http._pagination",
    "Page": "vendorgate.http._pagination",
    "PageNumber": "vendorgate.http._pagination",
    "PageRequest": "vendorgate.http._pagination",
    "Paginator": "vendorgate.http._pagination",
    "paginator_from_mapping": "vendorgate.http._pagination",
    "AsyncRateLimiter": "vendorgate.http._ratelimit",
    "RateLimit": "vendorgate.http._ratelimit",
    "RateLimiter": "vendorgate.http._ratelimit",
    "RetryPolicy": "vendorgate._retry",
    "parse_retry_after": "vendorgate._retry",
    "retry_testing": "vendorgate._retry",
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncRateLimiter",
    "AsyncVendorClient",
    "Checkpoint",
    "CursorInBody",
    "Custom",
    "FileStateStore",
    "Incremental",
    "LimitHeaders",
    "LinkHeader",
    "NextUrlInBody",
    "OffsetLimit",
    "Output",
    "OutputWriter",
    "Page",
    "PageNumber",
    "PageRequest",
    "Paginator",
    "PullResult",
    "RateLimit",
    "RateLimiter",
    "RetryPolicy",
    "StateStore",
    "StateStoreError",
    "VendorAuth",
    "VendorClient",
    "VendorRequestsAuth",
    "paginator_from_mapping",
    "parse_limit_headers",
    "parse_retry_after",
    "retry_testing",
]

if TYPE_CHECKING:
    from vendorgate._retry import RetryPolicy, parse_retry_after, retry_testing
    from vendorgate.http._auth import VendorAuth
    from vendorgate.http._client import AsyncVendorClient, VendorClient
    from vendorgate.http._incremental import (
        FileStateStore,
        Incremental,
        StateStore,
        StateStoreError,
    )
    from vendorgate.http._output import Checkpoint, Output, OutputWriter
    from vendorgate.http._pagination import (
        CursorInBody,
        Custom,
        LinkHeader,
        NextUrlInBody,
        OffsetLimit,
        Page,
        PageNumber,
        PageRequest,
        Paginator,
        paginator_from_mapping,
    )
    from vendorgate.http._pull import PullResult
    from vendorgate.http._ratelimit import (
        AsyncRateLimiter,
        LimitHeaders,
        RateLimit,
        RateLimiter,
        parse_limit_headers,
    )
    from vendorgate.http._requests_auth import VendorRequestsAuth
    from vendorgate.http._send import DEFAULT_TIMEOUT

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
