"""Single flight across processes: killed lock holders, many workers invalidating at once."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cache_helpers import HOLDER, CountingFetch, backend_from_spec, count_lines, invalidate_worker

from vendorgate.cache import CacheTiming, TokenCache

pytestmark = pytest.mark.slow

HELPERS_DIR = str(Path(__file__).resolve().parent)


@pytest.fixture
def shared_spec(backend_spec: dict[str, str]) -> dict[str, str]:
    if backend_spec["kind"] == "memory":
        pytest.skip("the memory backend is not shared between processes")
    return backend_spec


def test_killed_lock_holder_does_not_block_refresh(
    shared_spec: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A worker killed mid-refresh loses its lock; another worker then fetches the token."""
    code = HOLDER.format(helpers_dir=HELPERS_DIR, spec=shared_spec, ttl=1.0, key="k")
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "fetching"  # it holds the lock now
        backend = backend_from_spec(shared_spec)
        with backend.lock("k", ttl_s=30, wait_s=0.05) as got:
            assert got is False  # really held by the holder
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        fetch = CountingFetch(time.time, 600)
        with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
            token = TokenCache(
                backend, timing=CacheTiming(lock_ttl_s=30, lock_wait_s=20)
            ).get_or_fetch("k", fetch)
        assert fetch.calls == 1
        assert backend.get("k") == token
        assert "not obtained" not in caplog.text  # it got the lock, it did not give up
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_many_processes_invalidating_at_once_fetch_one_new_token(
    shared_spec: dict[str, str], tmp_path: Path
) -> None:
    """6 worker processes all refused the same token: exactly one new token is fetched."""
    ctx = multiprocessing.get_context("spawn")
    n = 6
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    counter = str(tmp_path / "fetches")
    procs = [
        ctx.Process(target=invalidate_worker, args=(shared_spec, "k", counter, barrier, results))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    try:
        pairs = [results.get(timeout=120) for _ in range(n)]
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join()
    firsts = {first for first, _ in pairs}
    seconds = {second for _, second in pairs}
    assert len(firsts) == 1  # one initial token for all
    assert len(seconds) == 1  # one new token for all
    assert firsts.isdisjoint(seconds)
    assert count_lines(counter) == 2
