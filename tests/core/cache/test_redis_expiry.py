"""The Redis store's expiry stays within what Redis accepts, whatever a token says."""

from __future__ import annotations

import time

import pytest
import redis
from cache_helpers import REDIS_URL

from vendorgate.cache import RedisStore
from vendorgate.tokens import MAX_TOKEN_LIFETIME_S, Token

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("expires_at", [float("inf"), 1e300, float(2**63 - 1)])
def test_absurd_expiry_is_clamped(redis_prefix: str, expires_at: float) -> None:
    """A token whose expiry is absurd is stored with an expiry of at most the maximum lifetime."""
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    try:
        now = time.time()
        store.set("k", Token(access_token="t-1", expires_at=expires_at, issued_at=now))
        assert store.get("k") is not None
        keys = redis.Redis.from_url(REDIS_URL).keys(redis_prefix + "*")
        assert len(keys) == 1
        ttl_ms = redis.Redis.from_url(REDIS_URL).pttl(keys[0])
        assert 0 < ttl_ms <= MAX_TOKEN_LIFETIME_S * 1000
    finally:
        store.close()


def test_nan_expiry_is_not_stored(redis_prefix: str) -> None:
    """A token whose expiry is NaN is not stored (and raises nothing)."""
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    try:
        store.set("k", Token(access_token="t-1", expires_at=float("nan"), issued_at=time.time()))
        assert store.get("k") is None
    finally:
        store.close()
