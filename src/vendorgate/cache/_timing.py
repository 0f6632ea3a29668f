"""How long the cache waits for and holds locks, and backs off after failures."""

from __future__ import annotations

from dataclasses import dataclass, fields

from vendorgate import _validate as check

__all__ = ["CacheTiming"]


@dataclass(frozen=True)
class CacheTiming:
    """The timing knobs of a :class:`~vendorgate.cache.TokenCache` (all in seconds, > 0).

    Attributes:
        lock_ttl_s: A refresh lock with a TTL (Redis, a Vault lease) lapses this long
            after its holder died. A live holder renews it every ``lock_ttl_s / 3`` while
            it fetches, so a slow token endpoint does not let it lapse. Keep it well
            above the clock skew between hosts for lease locks.
        lock_wait_s: How long a waiter waits for a lock before it re-reads the cache and
            fetches anyway. Keep it above the longest fetch, so a slow endpoint still sees
            one request: a :class:`~vendorgate.tokens.TokenFetcher` fetch ends within its
            retry budget (``TOKEN_RETRY_POLICY.timeout_s``, 60 s: every attempt, its
            whole reply included, and every wait end by then; a reply that trickles in
            is cut off at ``TokenConfig.timeout_s``) plus the JWKS check (at most 10 s)
            and secret resolution. The default 100 s keeps that margin; with a custom
            ``retry=`` policy on the fetcher, raise it above that policy's ``timeout_s``
            plus 10 s.
        backend_retry_s: After a store or lock failure, how long the cache uses its
            memory level only before it tries the shared level again.
        refresh_retry_s: When a refresh fails while the current token is still usable,
            the current token is served and the next attempt waits a random
            ``[0.5, 1] * refresh_retry_s`` seconds (never past the token's usable time).

    Raises:
        ConfigurationError: A value is not a finite number > 0 (the error names the
            field).
    """

    lock_ttl_s: float = 30.0
    lock_wait_s: float = 100.0
    backend_retry_s: float = 30.0
    refresh_retry_s: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, check.seconds(value, f.name))
