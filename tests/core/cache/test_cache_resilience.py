"""The cache under stress: failing refreshes, slow token endpoints, fork, racing invalidation."""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time

import pytest
from cache_helpers import REDIS_URL, CountingFetch, FakeClock, backend_from_spec, make_token

from vendorgate.cache import CacheTiming, RedisBackend, RefreshPolicy, TokenCache
from vendorgate.tokens import Token

_EXACT = RefreshPolicy(min_margin_s=0.0, clock_skew_s=0.0, jitter_ratio=0.0)


def _cache(clock: FakeClock, **timing: float) -> TokenCache:
    return TokenCache(clock=clock, policy=_EXACT, timing=CacheTiming(**timing))


class FailingFetch:
    """A token endpoint that is down: counts the attempts."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, previous: Token | None) -> Token:
        self.calls += 1
        raise RuntimeError("token endpoint answered 503")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "vendorgate.cache" and r.levelno == logging.WARNING
    ]


# -- a refresh that fails while the current token is still good -------------------------


def test_failed_refresh_serves_the_still_valid_token(clock: FakeClock) -> None:
    """A vendor outage during a refresh does not fail the task while the token is valid."""
    cache = _cache(clock)
    old = cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(92)  # due (90 %), valid for 8 s more
    assert cache.get_or_fetch("k", FailingFetch()) is old


def test_failed_refresh_is_retried_once_per_backoff_not_per_call(clock: FakeClock) -> None:
    """During an outage the token endpoint sees one attempt per retry period, not one per call."""
    cache = _cache(clock, refresh_retry_s=2.0)
    cache.get_or_fetch("k", CountingFetch(clock, 1000))
    clock.advance(901)  # due, usable until 950
    failing = FailingFetch()
    for _ in range(100):
        cache.get_or_fetch("k", failing)
    assert failing.calls == 1
    clock.advance(2.0)  # the retry moment is at most refresh_retry_s away
    for _ in range(100):
        cache.get_or_fetch("k", failing)
    assert failing.calls == 2


def test_failed_refresh_logs_one_warning_without_the_token(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage leaves one WARNING per attempt naming the token by fingerprint, not value."""
    cache = _cache(clock)
    old = cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(92)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        for _ in range(50):
            cache.get_or_fetch("k", FailingFetch())
    assert len(_warnings(caplog)) == 1
    assert old.fingerprint in caplog.text
    assert old.access_token not in caplog.text


def test_failed_refresh_without_a_usable_token_raises(clock: FakeClock) -> None:
    """When the current token is (nearly) expired, the refresh error reaches the caller."""
    cache = _cache(clock)
    cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(99.9)  # inside the last half of the refresh margin: not usable
    with pytest.raises(RuntimeError, match="503"):
        cache.get_or_fetch("k", FailingFetch())


def test_failed_refresh_serves_until_usable_time_then_raises(clock: FakeClock) -> None:
    """The retry moment never passes the token's usable time: then the error surfaces."""
    cache = _cache(clock, refresh_retry_s=30.0)
    old = cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(92)
    assert cache.get_or_fetch("k", FailingFetch()) is old
    clock.advance(3.0)  # usable until 95
    with pytest.raises(RuntimeError):
        cache.get_or_fetch("k", FailingFetch())


@pytest.mark.anyio
async def test_failed_async_refresh_serves_the_still_valid_token(clock: FakeClock) -> None:
    """Async tasks also keep the still-valid token when the refresh fails."""
    cache = _cache(clock)
    fetch = CountingFetch(clock)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    async def broken(previous: Token | None) -> Token:
        raise RuntimeError("token endpoint answered 503")

    old = await cache.aget_or_fetch("k", afetch)
    clock.advance(92)
    assert await cache.aget_or_fetch("k", broken) is old


# -- slow token endpoints: single flight holds ------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis", "vault"])
def test_fetch_slower_than_lock_ttl_is_still_one_request(
    kind: str, redis_prefix: str, request: pytest.FixtureRequest
) -> None:
    """A token request outlasting lock_ttl_s keeps its lock: another host waits, no 2nd request."""
    if kind == "redis":
        spec = {"kind": "redis", "url": REDIS_URL, "prefix": redis_prefix}
    else:
        url, root = request.getfixturevalue("vault_for_cache")
        prefix = f"vgtest/{redis_prefix.split(':')[1]}"
        spec = {"kind": "vault", "url": url, "token": root, "prefix": prefix}
    ttl = 0.6
    timing = CacheTiming(lock_ttl_s=ttl, lock_wait_s=20)
    a = TokenCache(backend_from_spec(spec), timing=timing)
    b = TokenCache(backend_from_spec(spec), timing=timing)
    a_in_fetch, b_fetched = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_a(previous: Token | None) -> Token:
        calls.append("a")
        a_in_fetch.set()
        b_fetched.wait(5 * ttl)  # returns early only if b fetched too (the bug)
        return make_token(time.time(), 600)

    def fetch_b(previous: Token | None) -> Token:
        calls.append("b")
        b_fetched.set()
        return make_token(time.time(), 600)

    results: dict[str, Token] = {}
    ta = threading.Thread(target=lambda: results.setdefault("a", a.get_or_fetch("k", slow_a)))
    ta.start()
    assert a_in_fetch.wait(10)
    tb = threading.Thread(target=lambda: results.setdefault("b", b.get_or_fetch("k", fetch_b)))
    tb.start()
    ta.join(30)
    tb.join(30)
    assert calls == ["a"]
    assert results["b"] == results["a"]


class _CountWarnings(logging.Handler):
    """Sets ``done`` once ``n`` WARNING records containing ``text`` were emitted."""

    def __init__(self, text: str, n: int) -> None:
        super().__init__(logging.WARNING)
        self.text, self.n, self.seen = text, n, 0
        self.done = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen += 1
            if self.seen >= self.n:
                self.done.set()


@pytest.mark.slow
def test_threads_waiting_longer_than_lock_wait_s_reread_instead_of_fetching(
    redis_prefix: str,
) -> None:
    """10 threads and a fetch slower than lock_wait_s: the waiters re-read, one token request."""
    cache = TokenCache(
        RedisBackend(REDIS_URL, prefix=redis_prefix), timing=CacheTiming(lock_wait_s=2.0)
    )
    timed_out = _CountWarnings("in-process lock", 9)
    logger = logging.getLogger("vendorgate.cache")
    logger.addHandler(timed_out)
    calls = 0

    def slow(previous: Token | None) -> Token:
        nonlocal calls
        calls += 1
        timed_out.done.wait(15)  # outlasts every waiter's in-process wait
        return make_token(time.time(), 600)

    results: list[Token] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_fetch("k", slow)))
        for _ in range(10)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        logger.removeHandler(timed_out)
    assert timed_out.seen == 9
    assert calls == 1
    assert len({r.fingerprint for r in results}) == 1
    assert len(results) == 10


# -- fork -------------------------------------------------------------------------------


@pytest.mark.slow
def test_forked_child_does_not_inherit_a_held_key_lock() -> None:
    """A process forked while a thread refreshes a key gets its token without waiting."""
    cache = TokenCache(timing=CacheTiming(lock_wait_s=120))
    in_fetch, release = threading.Event(), threading.Event()

    def held(previous: Token | None) -> Token:
        in_fetch.set()
        release.wait(30)
        return make_token(time.time(), 600)

    holder = threading.Thread(target=cache.get_or_fetch, args=("k", held))
    holder.start()
    assert in_fetch.wait(10)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()

    def child() -> None:
        token = cache.get_or_fetch("k", lambda previous: make_token(time.time(), 600))
        results.put(token.fingerprint)

    proc = ctx.Process(target=child)
    proc.start()
    try:
        fingerprint = results.get(timeout=20)  # before the fix: stuck for lock_wait_s
    except queue.Empty:
        fingerprint = None
    finally:
        release.set()
        holder.join(10)
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert fingerprint is not None
    assert proc.exitcode == 0


# -- memory invalidation racing a refresh -----------------------------------------------


class _RacingDict(dict):  # type: ignore[type-arg]
    """Right before the invalidating thread removes an entry, lets a refresh store a new one."""

    def __init__(self, *args: object, racer: threading.Thread) -> None:
        super().__init__(*args)
        self.racer = racer
        self.owner = threading.get_ident()

    def _race(self) -> None:
        if threading.get_ident() == self.owner and not self.racer.is_alive():
            self.racer.start()
            self.racer.join(0.5)  # before the fix the store lands here; after, it waits

    def pop(self, *args: object) -> object:
        self._race()
        return super().pop(*args)

    def __delitem__(self, key: object) -> None:
        self._race()
        super().__delitem__(key)


def test_invalidation_racing_a_refresh_keeps_the_new_token(clock: FakeClock) -> None:
    """An invalidation of the old token never removes the token another thread just stored."""
    cache = _cache(clock)
    old = cache.get_or_fetch("k", CountingFetch(clock))
    clock.advance(92)  # due: the racer's call refreshes
    new = make_token(clock())
    racer = threading.Thread(target=cache.get_or_fetch, args=("k", lambda previous: new))
    cache._memory = _RacingDict(cache._memory, racer=racer)
    cache.invalidate("k", old)
    racer.join(10)
    assert cache.peek("k") is new
