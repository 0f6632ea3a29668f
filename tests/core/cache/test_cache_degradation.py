"""An unavailable shared backend degrades to memory with one warning, and recovers."""

from __future__ import annotations

import logging
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cache_helpers import REDIS_URL, CountingFetch, FakeClock, make_token

from vendorgate import CacheError, ConfigurationError
from vendorgate.cache import (
    CacheTiming,
    FileBackend,
    MemoryBackend,
    MemoryStore,
    RedisBackend,
    RefreshPolicy,
    TokenCache,
    VaultKVBackend,
)
from vendorgate.tokens import Token


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FlakyBackend(MemoryBackend):
    """A memory backend that can be switched off (stands for a backend going away)."""

    name = "flaky"

    def __init__(self, clock: FakeClock | None = None) -> None:
        super().__init__(clock=clock or time.time)
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise CacheError("flaky backend is down")

    def get(self, key: str) -> Token | None:
        self._check()
        return super().get(key)

    def set(self, key: str, token: Token) -> None:
        self._check()
        super().set(key, token)

    def delete_if(self, key: str, fingerprint: str) -> bool:
        self._check()
        return super().delete_if(key, fingerprint)

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        self._check()
        with super().lock(key, ttl_s=ttl_s, wait_s=wait_s) as held:
            yield held


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "vendorgate.cache" and r.levelno == logging.WARNING
    ]


@pytest.mark.slow
def test_redis_down_degrades_to_memory_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis unreachable: tasks still get tokens, and the log has one warning, not one per call."""
    backend = RedisBackend(f"redis://127.0.0.1:{_closed_port()}/0", socket_timeout_s=0.5)
    cache = TokenCache(
        backend, policy=RefreshPolicy(refresh_ratio=0.5, min_margin_s=0, jitter_ratio=0)
    )
    fetch = CountingFetch(time.time, 0.05)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        tokens = []
        for _ in range(5):
            tokens.append(cache.get_or_fetch("k", fetch))
            cache.invalidate("k", tokens[-1])
    assert fetch.calls == 5
    assert cache.degraded
    assert len(_warnings(caplog)) == 1
    assert "redis backend unavailable" in _warnings(caplog)[0]


@pytest.mark.slow
def test_vault_unreachable_degrades_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    """Vault unreachable: the cache keeps serving from memory with one warning."""
    import hvac

    client = hvac.Client(url=f"http://127.0.0.1:{_closed_port()}", token="x", timeout=1)
    cache = TokenCache(VaultKVBackend(client))
    fetch = CountingFetch(time.time, 600)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        first = cache.get_or_fetch("k", fetch)
        assert cache.get_or_fetch("k", fetch) is first
    assert fetch.calls == 1
    assert len(_warnings(caplog)) == 1


def test_backend_recovers_after_retry_interval(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Once the backend is back, tokens are shared again after backend_retry_s."""
    backend = FlakyBackend(clock)
    cache = TokenCache(
        backend,
        timing=CacheTiming(backend_retry_s=10),
        clock=clock,
        policy=RefreshPolicy(jitter_ratio=0),
    )
    backend.down = True
    fetch = CountingFetch(clock, 600)
    with caplog.at_level(logging.INFO, logger="vendorgate.cache"):
        token = cache.get_or_fetch("k", fetch)
        cache.clear()
        cache.get_or_fetch("k", fetch)  # backend skipped: no new attempt
        calls_while_down = backend.calls
        backend.down = False
        clock.advance(11)
        cache.clear()
        again = cache.get_or_fetch("k", fetch)
    assert calls_while_down == 1
    assert cache.degraded is False
    assert backend.get("k") == again
    assert token != again
    back = [r.getMessage() for r in caplog.records if "is back" in r.getMessage()]
    assert back == [f"token cache: {backend.name} backend is back; sharing tokens again"]


def test_backend_failure_on_write_still_returns_the_token(clock: FakeClock) -> None:
    """A backend that fails while storing does not fail the task."""
    backend = FlakyBackend()
    cache = TokenCache(backend, clock=clock)

    def fetch(previous: Token | None) -> Token:
        backend.down = True
        return make_token(clock(), 600)

    token = cache.get_or_fetch("k", fetch)
    assert cache.get_or_fetch("k", fetch) is token
    assert cache.degraded


def test_invalidate_with_backend_down_still_clears_memory(clock: FakeClock) -> None:
    """Invalidation works on the memory level even when the backend is down."""
    backend = FlakyBackend()
    cache = TokenCache(backend, clock=clock)
    token = cache.get_or_fetch("k", CountingFetch(clock, 600))
    backend.down = True
    assert cache.invalidate("k", token) is True
    assert cache.peek("k") is None


@pytest.mark.anyio
async def test_async_path_degrades_too(clock: FakeClock) -> None:
    """The async path also serves from memory when the backend is down."""
    backend = FlakyBackend()
    backend.down = True
    cache = TokenCache(backend, clock=clock)
    fetch = CountingFetch(clock, 600)

    async def afetch(previous: Token | None) -> Token:
        return fetch(previous)

    first = await cache.aget_or_fetch("k", afetch)
    assert await cache.aget_or_fetch("k", afetch) is first
    assert fetch.calls == 1


def test_file_entries_are_private(tmp_path: Path) -> None:
    """Cache files holding tokens are mode 0600 in a 0700 directory."""
    backend = FileBackend(tmp_path / "c")
    backend.set("k", make_token(time.time(), 600))
    files = list((tmp_path / "c").iterdir())
    assert files
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_file_names_do_not_reveal_the_key(tmp_path: Path) -> None:
    """File names are hashes: client ids and URLs do not show up in a directory listing."""
    backend = FileBackend(tmp_path)
    backend.set("https://vendor.example/token|client-42", make_token(time.time(), 600))
    assert all("client-42" not in p.name for p in tmp_path.iterdir())


def test_file_backend_rejects_a_file_as_directory(tmp_path: Path) -> None:
    """A directory setting that points at a file names the field."""
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigurationError) as info:
        FileBackend(tmp_path / "f")
    assert info.value.field == "directory"


def test_redis_backend_rejects_a_non_redis_url() -> None:
    """A URL that is not redis:// names the field."""
    with pytest.raises(ConfigurationError) as info:
        RedisBackend("http://127.0.0.1:6379")
    assert info.value.field == "url"


@pytest.mark.parametrize("field", ["mount", "prefix"])
def test_vault_backend_rejects_empty_paths(field: str) -> None:
    """An empty mount or prefix names the field."""
    with pytest.raises(ConfigurationError) as info:
        VaultKVBackend(object(), **{field: "/"})
    assert info.value.field == field


class HalfBackend(FlakyBackend):
    """Reads work, but taking the lock is refused (e.g. a policy without update rights)."""

    name = "half"

    @contextmanager
    def lock(self, key: str, *, ttl_s: float, wait_s: float) -> Iterator[bool]:
        raise CacheError("permission denied on the lock path")
        yield True  # pragma: no cover


def test_half_working_backend_warns_once(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A backend that reads but cannot lock logs one WARNING, not one per retry period."""
    cache = TokenCache(
        HalfBackend(clock),
        clock=clock,
        policy=RefreshPolicy(jitter_ratio=0),
        timing=CacheTiming(backend_retry_s=30),
    )
    fetch = CountingFetch(clock, 100)
    with caplog.at_level(logging.INFO, logger="vendorgate.cache"):
        for _ in range(8):
            cache.get_or_fetch("k", fetch)
            clock.advance(95)  # past every retry period
    assert fetch.calls == 8
    assert len(_warnings(caplog)) == 1
    assert not any("is back" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("flaw", ["group-writable", "foreign owner"])
def test_file_backend_warns_once_about_an_unsafe_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, flaw: str
) -> None:
    """A cache directory others may write (or own) is reported once, without failing tasks."""
    import os

    # a name of its own: the warning is once per directory and per process, and a second
    # pytest run in the same process (mutmut's stats, then clean run) gets the same tmp_path
    directory = tmp_path / f"shared-{uuid.uuid4().hex}"
    directory.mkdir()
    if flaw == "group-writable":
        directory.chmod(0o770)
    else:
        if os.getuid() != 0:
            pytest.skip("changing a directory's owner needs root")
        os.chown(directory, 65534, 65534)
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        for _ in range(2):
            backend = FileBackend(directory)
            backend.set("k", make_token(time.time(), 600))
            backend.set("k", make_token(time.time(), 600))
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert str(directory) in warnings[0]


@pytest.mark.slow
def test_refresh_tokens_stay_out_of_redis_when_asked(redis_prefix: str) -> None:
    """With store_refresh_tokens=False, Redis holds the access token but no refresh token."""
    import redis

    cache = TokenCache(RedisBackend(REDIS_URL, prefix=redis_prefix), store_refresh_tokens=False)
    token = cache.get_or_fetch("k", lambda previous: make_token(time.time(), 600, refresh="rt-x1"))
    client = redis.Redis.from_url(REDIS_URL)
    stored = b"".join(client.get(k) or b"" for k in client.scan_iter(match=redis_prefix + "*"))
    client.close()
    assert token.access_token.encode() in stored
    assert b"rt-x1" not in stored


@pytest.mark.slow
def test_refresh_token_kept_in_memory_when_not_shared(redis_prefix: str) -> None:
    """With store_refresh_tokens=False, this process's refresh still gets its refresh token."""
    clock = FakeClock(time.time())
    cache = TokenCache(
        RedisBackend(REDIS_URL, prefix=redis_prefix),
        store_refresh_tokens=False,
        clock=clock,
        policy=RefreshPolicy(jitter_ratio=0),
    )
    first = cache.get_or_fetch("k", lambda previous: make_token(clock(), 600, refresh="rt-x2"))
    clock.advance(590)  # due; Redis still holds the access token
    fetch = CountingFetch(clock, 600)
    cache.get_or_fetch("k", fetch)
    assert fetch.previous == [first]
    assert fetch.previous[0] is not None
    assert fetch.previous[0].refresh_token == "rt-x2"


def test_two_threads_seeing_the_backend_back_at_once_say_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two writes succeed together after an outage: both find the cache degraded, one of
    them (whichever takes the state lock first) reports the recovery."""
    cache = TokenCache(MemoryStore())
    cache._mark_down(CacheError("the server restarted"))
    threads = [threading.Thread(target=cache._mark_up) for _ in range(2)]
    with caplog.at_level(logging.INFO, logger="vendorgate.cache"):
        with cache._state_guard:  # both pass the "degraded?" check and wait here
            for t in threads:
                t.start()
            time.sleep(0.1)
        for t in threads:
            t.join(10)
    back = [r.getMessage() for r in caplog.records if "is back" in r.getMessage()]
    assert back == ["token cache: memory backend is back; sharing tokens again"]
    assert cache.degraded is False


def test_the_backend_is_tried_again_exactly_backend_retry_s_after_it_failed(
    clock: FakeClock,
) -> None:
    backend = FlakyBackend(clock)
    cache = TokenCache(
        backend, timing=CacheTiming(backend_retry_s=10), clock=clock, policy=RefreshPolicy()
    )
    backend.down = True
    fetch = CountingFetch(clock, 600)
    cache.get_or_fetch("k", fetch)  # the first read fails: skipped for 10 s
    failed_at, tried = clock(), backend.calls
    clock.now = failed_at + 10 - 0.001
    cache.clear()
    cache.get_or_fetch("k", fetch)
    assert backend.calls == tried  # not tried before its time
    clock.now = failed_at + 10
    cache.clear()
    cache.get_or_fetch("k", fetch)
    assert backend.calls > tried
