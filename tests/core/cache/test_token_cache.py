"""TokenCache with its memory level: hits, proactive refresh, single flight, invalidation."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from cache_helpers import CountingFetch, FakeClock, HeldFetch, make_token

from vendorgate import ConfigurationError
from vendorgate.cache import CacheTiming, RefreshPolicy, TokenCache, default_cache
from vendorgate.tokens import Token


def _cache(clock: FakeClock, **policy: float) -> TokenCache:
    policy.setdefault("jitter_ratio", 0.0)
    return TokenCache(
        clock=clock, policy=RefreshPolicy(min_margin_s=0.0, clock_skew_s=0.0, **policy)
    )


def test_second_call_is_served_from_memory(clock: FakeClock) -> None:
    """A cached token is reused: the token endpoint is called once."""
    cache, fetch = _cache(clock), CountingFetch(clock)
    first = cache.get_or_fetch("k", fetch)
    assert cache.get_or_fetch("k", fetch) is first
    assert fetch.calls == 1


def test_token_is_replaced_after_refresh_ratio(clock: FakeClock) -> None:
    """A token is reused until 90 % of its life and replaced after that."""
    cache, fetch = _cache(clock), CountingFetch(clock)
    first = cache.get_or_fetch("k", fetch)
    clock.advance(89.9)
    assert cache.get_or_fetch("k", fetch) is first
    clock.advance(0.2)
    second = cache.get_or_fetch("k", fetch)
    assert second is not first
    assert fetch.calls == 2


def test_fetch_receives_previous_expired_token(clock: FakeClock) -> None:
    """A refresh grant gets the previous token (with its refresh token) even once expired."""
    cache = _cache(clock)
    first = make_token(clock(), refresh="rt-secret")
    cache.get_or_fetch("k", lambda prev: first)
    clock.advance(1000)
    fetch = CountingFetch(clock)
    cache.get_or_fetch("k", fetch)
    assert fetch.previous == [first]


def test_first_fetch_receives_none(clock: FakeClock) -> None:
    """With nothing cached, fetch is called with previous=None."""
    fetch = CountingFetch(clock)
    _cache(clock).get_or_fetch("k", fetch)
    assert fetch.previous == [None]


def test_keys_are_independent(clock: FakeClock) -> None:
    """Two token configurations never share a token."""
    cache, fetch = _cache(clock), CountingFetch(clock)
    assert cache.get_or_fetch("a", fetch) is not cache.get_or_fetch("b", fetch)
    assert fetch.calls == 2


def test_fetch_error_propagates_and_nothing_is_cached(clock: FakeClock) -> None:
    """A failing token request raises to the caller and the next call tries again."""
    cache = _cache(clock)

    def broken(previous: Token | None) -> Token:
        raise RuntimeError("vendor down")

    with pytest.raises(RuntimeError):
        cache.get_or_fetch("k", broken)
    fetch = CountingFetch(clock)
    cache.get_or_fetch("k", fetch)
    assert fetch.calls == 1


def test_threads_single_flight() -> None:
    """50 threads asking at once cause exactly one token request."""
    cache = TokenCache()
    fetch = HeldFetch(workers=50)  # holds the window until all 50 asked
    results: list[Token] = []

    def worker() -> None:
        fetch.arrive()
        results.append(cache.get_or_fetch("k", fetch))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert fetch.calls == 1
    assert len(results) == 50
    assert len({r.fingerprint for r in results}) == 1


@pytest.mark.anyio
async def test_tasks_single_flight() -> None:
    """100 asyncio tasks asking at once cause exactly one token request."""
    cache = TokenCache()
    release = asyncio.Event()
    calls = 0

    async def afetch(previous: Token | None) -> Token:
        nonlocal calls
        calls += 1
        await release.wait()
        import time

        return make_token(time.time(), 600)

    tasks = [asyncio.create_task(cache.aget_or_fetch("k", afetch)) for _ in range(100)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert len({r.fingerprint for r in results}) == 1


@pytest.mark.anyio
async def test_waiting_task_does_not_block_the_event_loop() -> None:
    """While a thread holds the key's lock, other coroutines of the loop keep running."""
    cache = TokenCache()
    in_fetch = threading.Event()
    release = threading.Event()

    def slow_fetch(previous: Token | None) -> Token:
        in_fetch.set()
        release.wait(10)
        import time

        return make_token(time.time(), 600)

    holder = threading.Thread(target=cache.get_or_fetch, args=("k", slow_fetch))
    holder.start()
    assert await asyncio.to_thread(in_fetch.wait, 10)

    async def never(previous: Token | None) -> Token:
        raise AssertionError("the waiter must reuse the holder's token")

    waiter = asyncio.create_task(cache.aget_or_fetch("k", never))
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0.01)
        ticks += 1
    assert not waiter.done()
    assert ticks == 5
    release.set()
    token = await asyncio.wait_for(waiter, 10)
    holder.join(10)
    assert token is cache.peek("k")


def test_invalidate_removes_the_stored_token(clock: FakeClock) -> None:
    """After the API refused a token, the next call fetches a new one."""
    cache, fetch = _cache(clock), CountingFetch(clock)
    first = cache.get_or_fetch("k", fetch)
    assert cache.invalidate("k", first) is True
    second = cache.get_or_fetch("k", fetch)
    assert second.fingerprint != first.fingerprint
    assert fetch.previous == [None, first]


def test_invalidate_never_clobbers_a_newer_token(clock: FakeClock) -> None:
    """A late invalidation of an old token leaves the newer one in place."""
    cache, fetch = _cache(clock), CountingFetch(clock)
    old = cache.get_or_fetch("k", fetch)
    cache.invalidate("k", old)
    new = cache.get_or_fetch("k", fetch)
    assert cache.invalidate("k", old) is False
    assert cache.get_or_fetch("k", fetch) is new
    assert fetch.calls == 2


def test_many_threads_invalidating_at_once_fetch_one_new_token() -> None:
    """20 workers that all saw a 401 with the same token cause exactly one new token."""
    import time

    cache = TokenCache()
    old = cache.get_or_fetch("k", lambda previous: make_token(time.time(), 600))
    fetch = HeldFetch(workers=20)  # holds the window until all 20 invalidated and asked
    barrier = threading.Barrier(20)
    results: list[Token] = []

    def worker() -> None:
        barrier.wait(10)
        cache.invalidate("k", old)
        fetch.arrive()
        results.append(cache.get_or_fetch("k", fetch))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert fetch.calls == 1
    assert len(results) == 20
    assert {r.fingerprint for r in results} == {cache.get_or_fetch("k", fetch).fingerprint}
    assert old.fingerprint not in {r.fingerprint for r in results}


@pytest.mark.anyio
async def test_ainvalidate_compares_before_delete(clock: FakeClock) -> None:
    """The async invalidation removes only the stored token."""
    cache = _cache(clock)
    fetch = CountingFetch(clock)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    first = await cache.aget_or_fetch("k", afetch)
    assert await cache.ainvalidate("k", make_token(clock())) is False
    assert await cache.ainvalidate("k", first) is True
    assert (await cache.aget_or_fetch("k", afetch)).fingerprint != first.fingerprint


def test_repr_shows_no_token(clock: FakeClock) -> None:
    """repr of a cache holding a token shows no secret."""
    cache = _cache(clock)
    token = cache.get_or_fetch("k", lambda prev: make_token(clock(), refresh="rt-secret"))
    text = repr(cache) + repr(token)
    assert token.access_token not in text
    assert "rt-secret" not in text


def test_invalidation_log_shows_only_the_fingerprint(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The invalidation log line names the token by fingerprint, never by value."""
    cache = _cache(clock)
    token = cache.get_or_fetch("k", CountingFetch(clock))
    with caplog.at_level(logging.DEBUG, logger="vendorgate.cache"):
        cache.invalidate("k", token)
    assert token.fingerprint in caplog.text
    assert token.access_token not in caplog.text


@pytest.mark.parametrize(
    "field", ["lock_ttl_s", "lock_wait_s", "backend_retry_s", "refresh_retry_s"]
)
def test_bad_timing_knob_names_the_field(field: str) -> None:
    """A non-positive timing setting raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError) as info:
        CacheTiming(**{field: 0})  # type: ignore[arg-type]
    assert info.value.field == field


def test_default_cache_is_one_per_process() -> None:
    """Providers given no cache share one process-wide memory cache."""
    assert default_cache() is default_cache()


def test_due_but_usable_token_is_served_while_another_thread_refreshes(clock: FakeClock) -> None:
    """Only the refresher waits: other threads keep the still-valid token meanwhile."""
    cache = _cache(clock)
    old = cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(92)  # due (90 %), still usable (expires at 100)
    in_fetch, release = threading.Event(), threading.Event()

    def slow_fetch(previous: Token | None) -> Token:
        in_fetch.set()
        release.wait(10)
        return make_token(clock(), 100)

    refresher = threading.Thread(target=cache.get_or_fetch, args=("k", slow_fetch))
    refresher.start()
    assert in_fetch.wait(10)
    try:
        assert cache.get_or_fetch("k", CountingFetch(clock)) is old
    finally:
        release.set()
        refresher.join(10)
    assert cache.get_or_fetch("k", CountingFetch(clock)) is not old


def test_nearly_expired_token_is_not_served_while_refreshing(clock: FakeClock) -> None:
    """A token about to expire is never handed out: the caller waits for the new one."""
    cache = _cache(clock)
    cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(99.9)  # inside the last half of the refresh margin
    in_fetch, release = threading.Event(), threading.Event()
    results: list[Token] = []

    def slow_fetch(previous: Token | None) -> Token:
        in_fetch.set()
        release.wait(10)
        return make_token(clock(), 100)

    refresher = threading.Thread(target=cache.get_or_fetch, args=("k", slow_fetch))
    refresher.start()
    assert in_fetch.wait(10)
    waiter = threading.Thread(
        target=lambda: results.append(cache.get_or_fetch("k", CountingFetch(clock)))
    )
    waiter.start()
    waiter.join(0.2)
    assert results == []  # still waiting for the refresher
    release.set()
    refresher.join(10)
    waiter.join(10)
    assert results == [cache.peek("k")]


@pytest.mark.anyio
async def test_due_but_usable_token_is_served_while_another_task_refreshes(
    clock: FakeClock,
) -> None:
    """Async: tasks keep the still-valid token while one task refreshes."""
    cache = _cache(clock)
    fetch = CountingFetch(clock)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    old = await cache.aget_or_fetch("k", afetch)
    clock.advance(92)
    release = asyncio.Event()

    async def slow(previous: Token | None) -> Token:
        await release.wait()
        return make_token(clock(), 100)

    refresher = asyncio.create_task(cache.aget_or_fetch("k", slow))
    await asyncio.sleep(0.01)
    assert await cache.aget_or_fetch("k", afetch) is old
    release.set()
    assert (await refresher) is not old
