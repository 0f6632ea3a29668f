"""``TokenProvider``: a valid token for one configuration, cached and shared.

The provider is the :class:`~vendorgate.tokens.TokenSource` the HTTP client uses. It
delegates caching (proactive refresh, single flight, shared backends) to
:class:`vendorgate.cache.TokenCache` and fetching to :class:`TokenFetcher`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vendorgate.tokens._fetcher import TokenFetcher

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

    from vendorgate._token import Token
    from vendorgate.cache import TokenCache
    from vendorgate.dialects import Dialect
    from vendorgate.secrets import SecretResolver
    from vendorgate.tokens._config import TokenConfig

__all__ = ["TokenProvider"]


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
        """Return a valid token, fetching (once, for everyone sharing the cache) when due."""
        return self.cache.get_or_fetch(self.cache_key, self.fetcher.fetch)

    async def aget_token(self) -> Token:
        """Async :meth:`get_token`."""
        return await self.cache.aget_or_fetch(self.cache_key, self.fetcher.afetch)

    def invalidate(self, token: Token) -> bool:
        """Drop ``token`` from the cache if it is still the stored one."""
        return self.cache.invalidate(self.cache_key, token)

    async def ainvalidate(self, token: Token) -> bool:
        """Async :meth:`invalidate`."""
        return await self.cache.ainvalidate(self.cache_key, token)
