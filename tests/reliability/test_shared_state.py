"""Fault matrix, shared state and processes: the Redis cache down or frozen, a lock holder
killed, a worker killed mid-extract and retried, two runs of one extract overlapping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from reliability_helpers import (
    REDIS,
    FreezingProxy,
    free_port,
    pull_items,
    read_ids,
    redis_available,
)

from vendorgate import OutputBusyError
from vendorgate.http import Checkpoint, Output

# 120 s: a child worker takes up to ~30 s just to start on a loaded CI runner
pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(120)]

TOKEN_PATH = "/lonewolf/oauth/token"
API = "/lonewolf/api/*"

# A worker: builds the connection from its JSON form (the secret from the environment),
# pulls the data set to the given output.
_WORKER = textwrap.dedent(
    """
    import json, sys
    from vendorgate import VendorConnection
    from vendorgate.http import PageNumber
    conn = VendorConnection.from_mapping(json.loads(sys.argv[1]))
    with conn.client() as client:
        result = client.pull("/items", PageNumber(page_size=100), output=sys.argv[2])
    print(result.records)
    """
)


needs_redis = pytest.mark.skipif(not redis_available(), reason="no Redis at 127.0.0.1:6379")


def _redis_cache(run, url: str = "redis://127.0.0.1:6379/0", **timing: float) -> dict:  # type: ignore[no-untyped-def]
    cache = {"backend": "redis", "url": url, "prefix": f"reliab:{run.client_id}:"}
    cache["socket_timeout_s"] = 1.0
    if timing:
        cache["timing"] = timing
    return cache


def _cleanup_redis(run) -> None:  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis(*REDIS)
    for key in client.scan_iter(f"reliab:{run.client_id}:*"):
        client.delete(key)


def _spec(run, **kw) -> dict:  # type: ignore[no-untyped-def]
    """The connection's JSON form, with the secret as an env: reference."""
    token = {
        "preset": "lonewolf",
        "client_id": run.client_id,
        "client_secret": "env:RELIAB_CLIENT_SECRET",
        "token_url": run.sandbox.token_url("lonewolf"),
        "audience": run.sandbox.audience("lonewolf"),
        "timeout_s": 60,
    }
    return {
        "token": token,
        "base_url": run.sandbox.api_url("lonewolf"),
        "cache": kw.get("cache"),
        "retry": {"attempts": 6, "timeout_s": 30, "wait_initial_s": 0.05, "wait_max_s": 2.0},
        "timeout_s": 5.0,
    }


def _start_worker(run, spec: dict, output: Path, log: Path) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "RELIAB_CLIENT_SECRET": run.client_secret.reveal()}
    with log.open("wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-c", _WORKER, json.dumps(spec), str(output)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def _wait_for(predicate, what: str, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@needs_redis
@pytest.mark.scenario("shared cache (Redis) down", expect="success, cache bypassed with warnings")
def test_redis_down(run) -> None:  # type: ignore[no-untyped-def]
    """With the shared cache unreachable the pull still completes (the cache degrades)."""
    cache = _redis_cache(run, url=f"redis://127.0.0.1:{free_port()}/0")
    out = run.tmp_path / "items.jsonl"
    with run.connection(cache=cache).client() as client:
        result = pull_items(client, out)
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    run.succeeded(result.records)


@needs_redis
@pytest.mark.scenario(
    "shared cache (Redis) frozen (accepts, never answers)",
    expect="success within socket_timeout_s-bounded waits (< 20 s)",
)
def test_redis_frozen(run) -> None:  # type: ignore[no-untyped-def]
    """A Redis that stops answering costs bounded waits, not a hang; the pull completes."""
    proxy = FreezingProxy(REDIS)
    try:
        proxy.frozen.set()
        cache = _redis_cache(run, url=f"redis://127.0.0.1:{proxy.port}/0")
        out = run.tmp_path / "items.jsonl"
        with run.connection(cache=cache).client() as client:
            result = pull_items(client, out)
        assert read_ids(out) == list(range(run.sandbox.dataset_size))
        run.succeeded(result.records)
        assert run.elapsed_s() < 20
    finally:
        proxy.close()
        _cleanup_redis(run)


@needs_redis
@pytest.mark.scenario(
    "refresh-lock holder killed (Redis lock, lock_ttl_s 3)",
    expect="success once the lock expires (< lock_ttl_s + 5 s)",
)
def test_lock_holder_killed(run) -> None:  # type: ignore[no-untyped-def]
    """A worker killed while it holds the refresh lock delays others by at most the lock TTL."""
    import redis

    cache = _redis_cache(run, lock_ttl_s=3.0, lock_wait_s=20.0)
    spec = _spec(run, cache=cache)
    run.sandbox.set_faults(path=TOKEN_PATH, latency_ms=30000)  # the holder waits in its fetch
    child = _start_worker(run, spec, run.tmp_path / "child.jsonl", run.tmp_path / "child.log")
    server = redis.Redis(*REDIS)
    try:
        _wait_for(
            lambda: any(server.scan_iter(f"reliab:{run.client_id}:*lock*")), "the child's lock"
        )
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        run.sandbox.clear_faults()
        run.restart_clock()
        out = run.tmp_path / "items.jsonl"
        with run.connection(cache=cache).client() as client:
            result = pull_items(client, out)
        assert read_ids(out) == list(range(run.sandbox.dataset_size))
        run.succeeded(result.records)
        assert run.elapsed_s() < 3.0 + 5
    finally:
        child.kill()
        child.wait(10)
        _cleanup_redis(run)


@pytest.mark.scenario(
    "worker SIGKILLed mid-extract, task retried",
    expect="rerun resumes; every record exactly once",
)
def test_worker_killed_mid_extract_and_retried(run) -> None:  # type: ignore[no-untyped-def]
    """A pull killed half-way and retried ends with every record once, by id."""
    out = run.tmp_path / "items.jsonl"
    checkpoint = Output(path=out).checkpoint_file
    run.sandbox.set_faults(path=API, latency_ms=40)
    child = _start_worker(run, _spec(run), out, run.tmp_path / "child.log")
    try:
        _wait_for(
            lambda: checkpoint.exists() and Checkpoint.load(checkpoint).records >= 300,
            "the child's progress",
        )
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
        child.wait(10)
    assert not out.exists()
    run.sandbox.clear_faults()
    with run.connection().client() as client:
        result = pull_items(client, out)
    assert result.resumed
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    assert not checkpoint.exists()
    run.succeeded(result.records, "resumed after the kill")


@pytest.mark.scenario(
    "two runs of the same extract overlapping",
    expect="second gets OutputBusyError at once; first completes exactly",
)
def test_two_runs_overlapping(run) -> None:  # type: ignore[no-untyped-def]
    """A second pull of an output being written is refused at once and corrupts nothing."""
    out = run.tmp_path / "items.jsonl"
    run.sandbox.set_faults(path=API, latency_ms=40)
    child = _start_worker(run, _spec(run), out, run.tmp_path / "child.log")
    try:
        _wait_for(lambda: Output(path=out).checkpoint_file.exists(), "the first run's progress")
        run.restart_clock()
        with run.connection().client() as client, pytest.raises(OutputBusyError) as info:
            pull_items(client, out)
        run.failed_with(info.value)
        assert run.elapsed_s() < 2
        assert child.wait(60) == 0
    finally:
        child.kill()
        child.wait(10)
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    run.measured += "; the first run wrote every record once"
