"""A forked worker (Celery's prefork pool, multiprocessing's fork start method) gets
memory stores and locks it can use: a lock held by another thread of the parent at the
moment of the fork would never be released in the child."""

from __future__ import annotations

import os
import threading
import time

import pytest
from cache_helpers import make_token

from vendorgate.cache import MemoryBackend, MemoryLock, MemoryStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _in_child(work: object) -> int:
    """Run ``work()`` in a forked child; its exit code (2: did not finish in 10 s)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = 0 if work() else 1  # type: ignore[operator]
        finally:
            os._exit(code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return 2


@pytest.mark.parametrize("kind", [MemoryStore, MemoryBackend])
def test_a_store_busy_in_another_thread_at_the_fork_works_in_the_child(kind: type) -> None:
    """The parent's thread is inside ``get`` (holding the store's guard) when it forks."""
    inside, release = threading.Event(), threading.Event()

    def clock() -> float:
        if threading.current_thread().name == "busy":  # stays inside get, guard held
            inside.set()
            release.wait(10)
        return time.time()

    store = kind(clock=clock)
    token = make_token(time.time(), 600)
    store.set("k", token)
    busy = threading.Thread(target=store.get, args=("k",), name="busy")
    busy.start()
    try:
        assert inside.wait(10)

        def child() -> bool:
            store.set("k", token)
            return store.get("k") == token

        assert _in_child(child) == 0
    finally:
        release.set()
        busy.join(10)


@pytest.mark.parametrize("kind", [MemoryLock, MemoryBackend])
def test_a_lock_held_by_another_thread_at_the_fork_is_free_in_the_child(kind: type) -> None:
    """The parent holds a key's refresh lock in another thread when it forks."""
    lock = kind()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock.lock("k", ttl_s=30, wait_s=5) as got:
            assert got
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)

        def child() -> bool:
            with lock.lock("k", ttl_s=30, wait_s=0.5) as got:
                return got

        assert _in_child(child) == 0
    finally:
        release.set()
        holder.join(10)
