"""A stored token is served until the instant it expires and never at that instant, the
same in every store (an injected clock, so the boundary itself is tested)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cache_helpers import REDIS_URL, FakeClock, make_token, redis_prefix_cleanup

from vendorgate.cache import FileStore, MemoryStore, RedisStore, TokenStore


@pytest.fixture(params=["memory", "file", "redis"])
def store_on(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[FakeClock], TokenStore]]:
    """Makes the store under test on a given clock."""
    prefix = f"vendorgate-test:{uuid.uuid4().hex}:"

    def make(clock: FakeClock) -> TokenStore:
        if request.param == "memory":
            return MemoryStore(clock=clock)
        if request.param == "file":
            return FileStore(tmp_path / "cache", clock=clock)
        return RedisStore(REDIS_URL, prefix=prefix, clock=clock)

    yield make
    if request.param == "redis":
        redis_prefix_cleanup(REDIS_URL, prefix)


def test_a_token_is_served_up_to_its_expiry_and_not_at_it(
    store_on: Callable[[FakeClock], TokenStore],
) -> None:
    """One moment before ``expires_at`` it is a hit; at ``expires_at`` a miss."""
    clock = FakeClock()
    store = store_on(clock)
    token = make_token(clock.now, lifetime_s=100.0)
    store.set("k", token)
    clock.now = token.expires_at - 0.5
    assert store.get("k") == token
    clock.now = token.expires_at
    assert store.get("k") is None
