"""Token engine: dialect-aware token requests, validation and the token provider.

Public names:
    Token: an access token and its lifetime.
    TokenSource: what the HTTP client needs from a provider.
    TokenConfig: one client's token request, secrets as references.
    TokenFetcher: one token request on the wire (sync and async), no caching.
    TokenProvider: cached, shared tokens for one config (a ``TokenSource``).
    JwksValidator: access-token verification against a JWKS.
    MAX_TOKEN_LIFETIME_S: the longest lifetime believed (366 days; longer is capped).
    MAX_TOKEN_REPLY_BYTES: the largest token reply read (256 KiB).
    MAX_JWKS_BYTES: the largest JWKS document read (256 KiB).
"""

from __future__ import annotations

from vendorgate._token import MAX_TOKEN_LIFETIME_S, MAX_TOKEN_REPLY_BYTES
from vendorgate.tokens._config import TokenConfig
from vendorgate.tokens._fetcher import TokenFetcher
from vendorgate.tokens._jwks import MAX_JWKS_BYTES, JwksValidator, clear_jwks_cache
from vendorgate.tokens._protocol import TokenSource
from vendorgate.tokens._provider import TokenProvider
from vendorgate.tokens._request import (
    Credentials,
    TokenRequest,
    build_refresh_request,
    build_token_request,
    parse_token_reply,
)
from vendorgate.tokens._token import Token

__all__ = [
    "MAX_JWKS_BYTES",
    "MAX_TOKEN_LIFETIME_S",
    "MAX_TOKEN_REPLY_BYTES",
    "Credentials",
    "JwksValidator",
    "Token",
    "TokenConfig",
    "TokenFetcher",
    "TokenProvider",
    "TokenRequest",
    "TokenSource",
    "build_refresh_request",
    "build_token_request",
    "clear_jwks_cache",
    "parse_token_reply",
]
