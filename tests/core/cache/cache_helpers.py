"""Helpers of the cache tests (importable from test modules and worker subprocesses)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vendorgate.cache import TokenStore
from vendorgate.tokens import Token

if TYPE_CHECKING:
    from vendorgate.cache import CacheBackend
    from vendorgate.secrets import VaultSession


# The machine's Redis, or the throwaway one tests/conftest.py started when none answered.
REDIS_URL = os.environ.get("VENDORGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class FakeClock:
    """A settable epoch clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_token(now: float, lifetime_s: float = 100.0, *, refresh: str | None = None) -> Token:
    """A token with a unique access token issued at ``now``."""
    return Token(
        access_token=f"at-{uuid.uuid4().hex}-secretvalue",
        expires_at=now + lifetime_s,
        issued_at=now,
        refresh_token=refresh,
    )


class CountingFetch:
    """A fetch function that counts calls and records the previous tokens it was given."""

    def __init__(self, now: Callable[[], float], lifetime_s: float = 100.0) -> None:
        self.now = now
        self.lifetime_s = lifetime_s
        self.calls = 0
        self.previous: list[Token | None] = []

    def __call__(self, previous: Token | None) -> Token:
        self.calls += 1
        self.previous.append(previous)
        return make_token(self.now(), self.lifetime_s)


# -- shared backends built from a plain spec (picklable: subprocess workers use it) --------


_MEMORY: dict[str, CacheBackend] = {}


def backend_from_spec(spec: dict[str, str], **kwargs: object) -> CacheBackend:
    """Build the backend a spec describes (``kind`` is memory, file, redis or vault)."""
    from vendorgate.cache import FileBackend, MemoryBackend, RedisBackend, VaultKVBackend

    kind = spec["kind"]
    if kind == "memory":
        # One store per spec id: "two workers" of the memory backend share it.
        if spec["id"] not in _MEMORY:
            _MEMORY[spec["id"]] = MemoryBackend(**kwargs)  # type: ignore[arg-type]
        return _MEMORY[spec["id"]]
    if kind == "file":
        return FileBackend(spec["directory"], **kwargs)  # type: ignore[arg-type]
    if kind == "redis":
        return RedisBackend(spec["url"], prefix=spec["prefix"], **kwargs)  # type: ignore[arg-type]
    if kind == "vault":
        return VaultKVBackend(vault_session(spec), prefix=spec["prefix"], **kwargs)  # type: ignore[arg-type]
    raise ValueError(kind)


def vault_session(spec: dict[str, str]) -> VaultSession:
    """A VaultSession logged in with the spec's (root) token."""
    from vendorgate import Secret
    from vendorgate.secrets import VaultSession, VaultSettings

    return VaultSession(VaultSettings(url=spec["url"], token=Secret(spec["token"])))


class NonAtomicStore(TokenStore):
    """A store without compare-and-delete: ``delete_if`` reads, waits, then deletes.

    Stands for an orchestrator's key-value store (Airflow Variables, Prefect blocks).
    ``window`` is called between the compare and the delete; by default it sleeps a
    little, which widens the race a store like this has in real life.
    """

    name = "non-atomic"
    atomic_delete = False

    def __init__(self, window: Callable[[], None] | None = None) -> None:
        self.entries: dict[str, Token] = {}
        self.window = window or (lambda: time.sleep(0.05))
        self.deletes = 0

    def get(self, key: str) -> Token | None:
        token = self.entries.get(key)
        if token is None or token.expires_at <= time.time():
            return None
        return token

    def set(self, key: str, token: Token) -> None:
        self.entries[key] = token

    def delete_if(self, key: str, fingerprint: str) -> bool:
        token = self.entries.get(key)
        if token is None or token.fingerprint != fingerprint:
            return False
        self.window()  # another worker's set may land here
        self.entries.pop(key, None)
        self.deletes += 1
        return True


def write_raw(spec: dict[str, str], key: str, raw: str) -> None:
    """Write ``raw`` as the stored entry of ``key``, bypassing the codec (a corrupt entry)."""
    from vendorgate.cache._codec import storage_name

    kind = spec["kind"]
    if kind == "file":
        Path(spec["directory"]).mkdir(parents=True, exist_ok=True)
        Path(spec["directory"], f"{storage_name(key)}.json").write_text(raw)
    elif kind == "redis":
        import redis

        redis.Redis.from_url(spec["url"]).set(spec["prefix"] + storage_name(key), raw)
    elif kind == "vault":
        import hvac

        client = hvac.Client(url=spec["url"], token=spec["token"])
        client.secrets.kv.v2.create_or_update_secret(
            path=f"{spec['prefix']}/{storage_name(key)}",
            secret={"v": 1, "fp": "x", "token": raw},
            mount_point="secret",
        )
    else:
        raise ValueError(kind)


def redis_prefix_cleanup(url: str, prefix: str) -> None:
    """Delete every Redis key under ``prefix``."""
    import contextlib

    import redis

    client = redis.Redis.from_url(url)
    with contextlib.suppress(redis.RedisError):
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    client.close()


def append_line(path: str, line: str) -> None:
    """Append one line atomically (O_APPEND): the cross-process fetch counter."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def count_lines(path: str) -> int:
    """Lines in ``path`` (0 when absent)."""
    try:
        return len(Path(path).read_text().splitlines())
    except FileNotFoundError:
        return 0


def invalidate_worker(
    spec: dict[str, str], key: str, counter: str, barrier: Any, results: Any
) -> None:
    """A worker process: get a token, wait for all, invalidate it, get the new one."""
    from vendorgate.cache import CacheTiming, TokenCache

    cache = TokenCache(backend_from_spec(spec), timing=CacheTiming(lock_wait_s=20))

    def fetch(previous: Token | None) -> Token:
        append_line(counter, "fetch")
        time.sleep(0.2)  # a slow token endpoint widens the race window
        return make_token(time.time(), 600)

    first = cache.get_or_fetch(key, fetch)
    barrier.wait(30)
    cache.invalidate(key, first)
    results.put((first.fingerprint, cache.get_or_fetch(key, fetch).fingerprint))


HOLDER = """
import sys, time
sys.path.insert(0, {helpers_dir!r})
from cache_helpers import backend_from_spec, make_token
from vendorgate.cache import CacheTiming, TokenCache
cache = TokenCache(backend_from_spec({spec!r}), timing=CacheTiming(lock_ttl_s={ttl!r}))
def fetch(previous):
    print("fetching", flush=True)
    time.sleep(3600)
cache.get_or_fetch({key!r}, fetch)
"""


class HeldFetch:
    """A token endpoint that holds the race window open for thread tests of the cache.

    Each worker calls :meth:`arrive` just before it asks the cache. The first fetch then
    waits until every worker has arrived and ``hold_s`` more (ending early if a second fetch
    starts, which is the race the test looks for): without single flight, the workers that
    arrived while the first fetch was running fetch too, and ``calls`` shows it.
    """

    def __init__(self, workers: int, *, lifetime_s: float = 600.0, hold_s: float = 0.3) -> None:
        import threading

        self.workers = workers
        self.lifetime_s = lifetime_s
        self.hold_s = hold_s
        self.calls = 0
        self.arrived = 0
        self._cond = threading.Condition()

    def arrive(self) -> None:
        with self._cond:
            self.arrived += 1
            self._cond.notify_all()

    def __call__(self, previous: Token | None) -> Token:
        with self._cond:
            self.calls += 1
            self._cond.notify_all()
            if self.calls == 1:
                self._cond.wait_for(lambda: self.arrived >= self.workers, timeout=10)
                self._cond.wait_for(lambda: self.calls > 1, timeout=self.hold_s)
        return make_token(time.time(), self.lifetime_s)
