"""The events the token cache emits (for metrics and tracing subscribers), sync and async:
a miss and its fetch, a hit in this process's memory, a hit in the shared store; none when
nobody listens is not observable, so only what a listener receives is pinned."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from cache_helpers import make_token

from vendorgate import events
from vendorgate.cache import MemoryStore, TokenCache
from vendorgate.tokens import Token


def _get(cache: TokenCache, way: str) -> Token:
    def fetch(previous: Token | None) -> Token:
        return make_token(1e10 - 600, 600)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    if way == "sync":
        return cache.get_or_fetch("k", fetch)
    return asyncio.run(cache.aget_or_fetch("k", afetch))


def _seen(call: Callable[[], Token]) -> tuple[Token, list[events.Event]]:
    seen: list[events.Event] = []
    with events.listen(seen.append):
        token = call()
    return token, seen


@pytest.mark.parametrize("way", ["sync", "async"])
def test_a_miss_a_memory_hit_and_a_store_hit_are_each_told_once(way: str) -> None:
    store = MemoryStore()
    worker = TokenCache(store)
    token, seen = _seen(lambda: _get(worker, way))
    assert seen == [
        events.CacheMiss("k"),
        events.TokenFetched("k", token.fingerprint, 600.0),
    ]
    again, seen = _seen(lambda: _get(worker, way))
    assert again is token
    assert seen == [events.CacheHit("k", "memory")]
    other_worker = TokenCache(store)
    shared, seen = _seen(lambda: _get(other_worker, way))
    assert shared.fingerprint == token.fingerprint
    assert seen == [events.CacheHit("k", "store")]


@pytest.mark.parametrize("way", ["sync", "async"])
def test_a_cache_without_a_store_tells_the_miss_and_the_fetch(way: str) -> None:
    worker = TokenCache()
    token, seen = _seen(lambda: _get(worker, way))
    assert seen == [events.CacheMiss("k"), events.TokenFetched("k", token.fingerprint, 600.0)]
