"""The async path of TokenCache with a shared store: what it stores, another process reads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from cache_helpers import FakeClock, make_token

from vendorgate import events
from vendorgate.cache import FileStore, RefreshPolicy, TokenCache
from vendorgate.tokens import Token


def _cache(directory: Path, clock: FakeClock) -> TokenCache:
    policy = RefreshPolicy(min_margin_s=0.0, clock_skew_s=0.0, jitter_ratio=0.0)
    return TokenCache(FileStore(directory), clock=clock, policy=policy)


def test_async_fetch_is_stored_for_other_workers(tmp_path: Path) -> None:
    """A token fetched by aget_or_fetch is in the shared store: a second worker (another
    cache on the same directory) gets it without asking the vendor."""
    clock = FakeClock(time.time())  # the store judges expiry by the real clock
    token = make_token(clock(), refresh="rt-1")
    seen: list[object] = []

    async def first_fetch(previous: Token | None) -> Token:
        assert previous is None
        return token

    async def never(previous: Token | None) -> Token:
        raise AssertionError("the second worker must not fetch")

    async def run() -> tuple[Token, Token]:
        with events.listen(seen.append):
            got = await _cache(tmp_path, clock).aget_or_fetch("k", first_fetch)
        return got, await _cache(tmp_path, clock).aget_or_fetch("k", never)

    got, other = asyncio.run(run())
    assert got.access_token == other.access_token == token.access_token
    assert [e.key for e in seen if isinstance(e, events.CacheMiss)] == ["k"]


def test_async_refresh_receives_the_previous_token(tmp_path: Path) -> None:
    """An async refresh gets the previous token (with its refresh token), even once expired."""
    clock = FakeClock()
    first = make_token(clock(), refresh="rt-1")
    previous: list[Token | None] = []

    async def fetch(prev: Token | None) -> Token:
        previous.append(prev)
        return first if prev is None else make_token(clock(), refresh="rt-2")

    async def run() -> None:
        cache = _cache(tmp_path, clock)
        await cache.aget_or_fetch("k", fetch)
        clock.advance(1000)
        await cache.aget_or_fetch("k", fetch)

    asyncio.run(run())
    assert previous[0] is None
    assert previous[1] is not None
    assert previous[1].refresh_token is not None
    assert previous[1].refresh_token == "rt-1"
