"""``TokenProvider``: a valid token for one configuration, cached and shared.

The provider is the :class:`~vendorgate.tokens.TokenSource` the HTTP client uses. It
delegates caching (proactive refresh, single flight, shared backends) to
:class:`vendorgate.cache.TokenCache` and fetching to :class:`TokenFetcher`.

A token that fails validation (a TCI token whose ``iat`` is further in this host's
future than the leeway, a bad signature, a wrong audience) is never turned into one
token request per call: the provider raises the :class:`~vendorgate.TokenValidationError`
and, for ``validation_retry_s`` seconds (default 60), raises it again without asking the
vendor; a token another worker stored in a shared cache is still served meanwhile.

Each fetched token is stamped with the vendor's issue time (its ``iat`` claim, when the
access token is a JWT) and the lifetime as the vendor stated it, so that a shared cache
judges expiry by the vendor's clock rather than by the fetching worker's
(:meth:`vendorgate.tokens.Token.expires_at_for`).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vendorgate._errors import TokenValidationError
from vendorgate.tokens._fetcher import TokenFetcher
from vendorgate.tokens._request import jwt_claims_unverified

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx

    from vendorgate._token import Token
    from vendorgate.cache import TokenCache
    from vendorgate.dialects import Dialect
    from vendorgate.secrets import SecretResolver
    from vendorgate.tokens._config import TokenConfig

__all__ = ["VALIDATION_RETRY_S", "TokenProvider", "with_vendor_times"]

#: Seconds a provider waits after a failed token validation before it asks again.
VALIDATION_RETRY_S = 60.0


def _claim_time(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def with_vendor_times(token: Token) -> Token:
    """``token`` with the vendor's issue time and stated lifetime, when its JWT says.

    The vendor's issue time is the access token's ``iat`` claim (read without
    verification: it only moves the refresh moment, never grants anything). The
    lifetime is ``expires_in`` as the reply said, or ``exp - iat`` when the expiry came
    from the token itself. An opaque token is returned unchanged.
    """
    if token.vendor_issued_at is not None:
        return token
    claims = jwt_claims_unverified(token.access_token)
    if not claims:
        return token
    iat = _claim_time(claims, "iat")
    if iat is None:
        return token
    exp = _claim_time(claims, "exp")
    lifetime = exp - iat if exp is not None and token.expires_at == exp else token.lifetime_s
    if lifetime <= 0:
        return token
    return replace(token, vendor_issued_at=iat, expires_in_s=lifetime)


class TokenProvider:
    """Valid access tokens for one :class:`TokenConfig`, sync and async.

    Args:
        config: What to ask for, and from whom.
        cache: The token cache (default: the process-wide memory-only cache, so
            providers with the same ``cache_key`` share tokens).
        resolver: Secret resolver (default: one for ``config.vault``, or the
            process-wide resolver).
        http_client: ``httpx.Client`` for token requests (default: one per fetch).
        async_http_client: ``httpx.AsyncClient`` for async token requests.
        fetcher: A prepared :class:`TokenFetcher` (overrides the three above).
        validation_retry_s: After a token failed validation, how long calls raise that
            failure again without a token request (default :data:`VALIDATION_RETRY_S`).
        clock: Monotonic clock of that back-off (tests inject a fake one).

    Example:
        >>> import os
        >>> from vendorgate.tokens import TokenConfig, TokenProvider
        >>> os.environ["LW_SECRET"] = "example"
        >>> provider = TokenProvider(TokenConfig.from_mapping(
        ...     {"preset": "lonewolf", "client_id": "me", "client_secret": "env:LW_SECRET"}))
        >>> sorted(provider.invalid_token_statuses)
        [401, 403]
    """

    def __init__(
        self,
        config: TokenConfig,
        *,
        cache: TokenCache | None = None,
        resolver: SecretResolver | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        fetcher: TokenFetcher | None = None,
        validation_retry_s: float = VALIDATION_RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache is None:
            from vendorgate.cache import default_cache

            cache = default_cache()
        self.config = config
        self.cache = cache
        self.fetcher = fetcher or TokenFetcher(
            config,
            resolver=resolver,
            http_client=http_client,
            async_http_client=async_http_client,
        )
        self.vendor: str = config.dialect.name
        self.invalid_token_statuses: frozenset[int] = config.dialect.invalid_token_statuses
        self.cache_key: str = config.cache_key
        self.validation_retry_s = float(validation_retry_s)
        self._clock = clock
        # (when, message) of the last validation failure, while its back-off lasts.
        self._failure: tuple[float, str] | None = None
        self._failure_guard = threading.Lock()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], **kwargs: Any) -> TokenProvider:
        """Build a provider from plain configuration (see :meth:`TokenConfig.from_mapping`)."""
        from vendorgate.tokens._config import TokenConfig

        return cls(TokenConfig.from_mapping(data), **kwargs)

    def __repr__(self) -> str:
        return f"TokenProvider(vendor={self.vendor!r}, client_id={self.config.client_id!r})"

    @property
    def dialect(self) -> Dialect:
        """The vendor dialect."""
        return self.config.dialect

    def get_token(self) -> Token:
        """Return a valid token, fetching (once, for everyone sharing the cache) when due.

        Raises:
            TokenValidationError: the fetched token failed validation, now or within the
                last ``validation_retry_s`` seconds (then without a new token request).
        """
        return self.cache.get_or_fetch(self.cache_key, self._fetch)

    async def aget_token(self) -> Token:
        """Async :meth:`get_token`."""
        return await self.cache.aget_or_fetch(self.cache_key, self._afetch)

    def _fetch(self, previous: Token | None) -> Token:
        self._raise_during_back_off()
        try:
            token = self.fetcher.fetch(previous)
        except TokenValidationError as exc:
            raise self._failed(exc) from None
        return with_vendor_times(token)

    async def _afetch(self, previous: Token | None) -> Token:
        self._raise_during_back_off()
        try:
            token = await self.fetcher.afetch(previous)
        except TokenValidationError as exc:
            raise self._failed(exc) from None
        return with_vendor_times(token)

    def _failed(self, exc: TokenValidationError) -> TokenValidationError:
        """Start the back-off after a failed validation; the error to raise."""
        message = str(exc)
        with self._failure_guard:
            self._failure = (self._clock(), message)
        return TokenValidationError(
            f"{message} (no new token request for {self.validation_retry_s:.0f} s; "
            "calls until then raise this error)"
        )

    def _raise_during_back_off(self) -> None:
        failure = self._failure
        if failure is None:
            return
        when, message = failure
        ago = self._clock() - when
        if ago >= self.validation_retry_s:
            with self._failure_guard:
                if self._failure is failure:
                    self._failure = None
            return
        raise TokenValidationError(
            f"{message} (raised again without a token request: the last token failed "
            f"validation {ago:.0f} s ago; the next request is in "
            f"{self.validation_retry_s - ago:.0f} s)"
        )

    def invalidate(self, token: Token) -> bool:
        """Drop ``token`` from the cache if it is still the stored one."""
        return self.cache.invalidate(self.cache_key, token)

    async def ainvalidate(self, token: Token) -> bool:
        """Async :meth:`invalidate`."""
        return await self.cache.ainvalidate(self.cache_key, token)
