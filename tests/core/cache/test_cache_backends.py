"""The contract every shared backend keeps (memory, file, Redis, Vault KV v2)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cache_helpers import CountingFetch, FakeClock, backend_from_spec, make_token, write_raw

from vendorgate.cache import FileBackend, TokenCache, VaultKVBackend

pytestmark = pytest.mark.slow


def test_missing_entry_is_none(backend_spec: dict[str, str]) -> None:
    """An unknown key is a miss, not an error."""
    assert backend_from_spec(backend_spec).get("nope") is None


def test_roundtrip_keeps_every_field(backend_spec: dict[str, str]) -> None:
    """A stored token comes back with its refresh token, scope and times."""
    backend = backend_from_spec(backend_spec)
    token = make_token(__import__("time").time(), 600, refresh="rt-secret")
    backend.set("k", token)
    assert backend.get("k") == token


def test_expired_entry_is_a_miss(backend_spec: dict[str, str], clock: FakeClock) -> None:
    """An expired token is never served from a shared level."""
    backend = backend_from_spec(backend_spec, clock=clock)
    clock.now = __import__("time").time()
    backend.set("k", make_token(clock(), 600))
    clock.advance(601)
    assert backend.get("k") is None


def test_delete_if_removes_the_matching_token(backend_spec: dict[str, str]) -> None:
    """Invalidating the stored token removes it."""
    backend = backend_from_spec(backend_spec)
    token = make_token(__import__("time").time(), 600)
    backend.set("k", token)
    assert backend.delete_if("k", token.fingerprint) is True
    assert backend.get("k") is None


def test_delete_if_never_clobbers_a_newer_token(backend_spec: dict[str, str]) -> None:
    """Invalidating an old token leaves a newer stored token in place."""
    backend = backend_from_spec(backend_spec)
    now = __import__("time").time()
    old, new = make_token(now, 600), make_token(now, 600)
    backend.set("k", new)
    assert backend.delete_if("k", old.fingerprint) is False
    assert backend.get("k") == new


def test_delete_if_on_missing_entry_is_false(backend_spec: dict[str, str]) -> None:
    """Invalidating when nothing is stored is harmless."""
    assert backend_from_spec(backend_spec).delete_if("k", "0" * 16) is False


def test_lock_excludes_a_second_holder(backend_spec: dict[str, str]) -> None:
    """While one worker holds a key's lock, another cannot take it; afterwards it can."""
    backend = backend_from_spec(backend_spec)
    other = backend_from_spec(backend_spec)
    seen: list[bool] = []

    def try_lock() -> None:
        with other.lock("k", ttl_s=30, wait_s=0.2) as got:
            seen.append(got)

    with backend.lock("k", ttl_s=30, wait_s=5) as held:
        assert held is True
        t = threading.Thread(target=try_lock)
        t.start()
        t.join(30)
    try_lock()
    assert seen == [False, True]


def test_locks_of_different_keys_are_independent(backend_spec: dict[str, str]) -> None:
    """Two token configurations refresh in parallel."""
    backend = backend_from_spec(backend_spec)
    with backend.lock("a", ttl_s=30, wait_s=5) as a, backend.lock("b", ttl_s=30, wait_s=0.2) as b:
        assert (a, b) == (True, True)


def test_corrupt_entry_is_a_logged_miss(
    backend_spec: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt entry counts as a miss, logged at WARNING without its content."""
    if backend_spec["kind"] == "memory":
        pytest.skip("the memory backend stores objects, it cannot hold a corrupt entry")
    backend = backend_from_spec(backend_spec)
    write_raw(backend_spec, "k", '{"v": 1, "token": {"access_token": "leaked-secret-xyz"')
    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
        assert backend.get("k") is None
    assert "corrupt" in caplog.text
    assert "leaked-secret-xyz" not in caplog.text


def test_corrupt_entry_is_replaced_by_the_next_fetch(backend_spec: dict[str, str]) -> None:
    """After a corrupt entry the cache fetches once and stores a good entry again."""
    if backend_spec["kind"] == "memory":
        pytest.skip("the memory backend cannot hold a corrupt entry")
    write_raw(backend_spec, "k", "not json at all")
    fetch = CountingFetch(__import__("time").time, 600)
    token = TokenCache(backend_from_spec(backend_spec)).get_or_fetch("k", fetch)
    assert backend_from_spec(backend_spec).get("k") == token
    assert fetch.calls == 1


def test_two_caches_share_one_token(backend_spec: dict[str, str]) -> None:
    """A second worker (its own TokenCache) reuses the token the first one fetched."""
    fetch = CountingFetch(__import__("time").time, 600)
    first = TokenCache(backend_from_spec(backend_spec)).get_or_fetch("k", fetch)
    second = TokenCache(backend_from_spec(backend_spec)).get_or_fetch("k", fetch)
    assert second == first
    assert fetch.calls == 1


def test_late_invalidation_from_another_worker_keeps_the_new_token(
    backend_spec: dict[str, str],
) -> None:
    """Worker B invalidating the old token after A replaced it causes no extra fetch."""
    fetch = CountingFetch(__import__("time").time, 600)
    a = TokenCache(backend_from_spec(backend_spec))
    b = TokenCache(backend_from_spec(backend_spec))
    old = a.get_or_fetch("k", fetch)
    assert b.get_or_fetch("k", fetch) == old
    a.invalidate("k", old)
    new = a.get_or_fetch("k", fetch)
    b.invalidate("k", old)
    assert b.get_or_fetch("k", fetch) == new
    assert fetch.calls == 2


@pytest.mark.anyio
async def test_tasks_and_threads_share_one_fetch(backend_spec: dict[str, str]) -> None:
    """Async tasks and threads of two caches on one backend cause one token request."""
    import asyncio
    import time

    fetch = CountingFetch(time.time, 600)
    gate = threading.Event()

    def slow_fetch(previous: object) -> object:
        gate.wait(10)
        return fetch(previous)  # type: ignore[arg-type]

    async def afetch(previous: object) -> object:
        await asyncio.to_thread(gate.wait, 10)
        return fetch(previous)  # type: ignore[arg-type]

    a = TokenCache(backend_from_spec(backend_spec), lock_wait_s=20)
    b = TokenCache(backend_from_spec(backend_spec), lock_wait_s=20)
    threads = [threading.Thread(target=b.get_or_fetch, args=("k", slow_fetch)) for _ in range(5)]
    for t in threads:
        t.start()
    tasks = [asyncio.create_task(a.aget_or_fetch("k", afetch)) for _ in range(20)]  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    gate.set()
    tokens = await asyncio.gather(*tasks)
    for t in threads:
        await asyncio.to_thread(t.join, 10)
    assert fetch.calls == 1
    assert {t.fingerprint for t in tokens} == {b.peek("k").fingerprint}  # type: ignore[union-attr]


def test_expired_lock_is_taken_over_and_not_released_by_its_old_holder(
    backend_spec: dict[str, str],
) -> None:
    """A lock outlives no dead holder (TTL), and a slow old holder cannot free the new one's."""
    if backend_spec["kind"] in ("memory", "file"):
        pytest.skip("in-process and flock locks are freed by the holder's death, not a TTL")
    old_holder = backend_from_spec(backend_spec)
    new_holder = backend_from_spec(backend_spec)
    third = backend_from_spec(backend_spec)
    with old_holder.lock("k", ttl_s=0.5, wait_s=5) as held:
        assert held is True
        cm = new_holder.lock("k", ttl_s=30, wait_s=20)
        assert cm.__enter__() is True  # waits until the 0.5 s lease lapsed
    # The old holder's exit ran after its lease lapsed: the new holder's lock must stand.
    try:
        with third.lock("k", ttl_s=30, wait_s=0.2) as got:
            assert got is False
    finally:
        cm.__exit__(None, None, None)
    with third.lock("k", ttl_s=30, wait_s=5) as got:
        assert got is True


# -- races and corrupt state in particular backends ---------------------------------------


def test_file_set_during_delete_if_keeps_the_new_token(tmp_path: Path) -> None:
    """An invalidation comparing the old token never deletes a token stored meanwhile."""
    import vendorgate.cache._file as file_module

    a, b = FileBackend(tmp_path), FileBackend(tmp_path)
    now = time.time()
    old, new = make_token(now, 600), make_token(now, 600)
    a.set("k", old)
    writer = threading.Thread(target=b.set, args=("k", new))
    decode = file_module.decode_entry

    def decode_while_another_process_writes(raw: object, *, backend: str) -> object:
        writer.start()
        writer.join(0.5)  # before the fix the write lands here; after, it waits for the mutex
        return decode(raw, backend=backend)  # type: ignore[arg-type]

    file_module.decode_entry = decode_while_another_process_writes  # type: ignore[assignment]
    try:
        a.delete_if("k", old.fingerprint)
    finally:
        file_module.decode_entry = decode
    writer.join(10)
    assert a.get("k") == new


def _vault_pair(spec: dict[str, str]) -> tuple[VaultKVBackend, VaultKVBackend]:
    a, b = backend_from_spec(spec), backend_from_spec(spec)
    assert isinstance(a, VaultKVBackend)
    assert isinstance(b, VaultKVBackend)
    return a, b


@pytest.fixture
def vault_spec(vault_for_cache: tuple[str, str]) -> dict[str, str]:
    url, token = vault_for_cache
    return {"kind": "vault", "url": url, "token": token, "prefix": f"vgtest/{uuid.uuid4().hex}"}


@pytest.mark.parametrize(
    ("interleaved", "kept"),
    [("late tombstone", "ours"), ("older token", "ours"), ("newer token", "theirs")],
)
def test_vault_set_after_a_cas_conflict_keeps_the_newest_token(
    vault_spec: dict[str, str], interleaved: str, kept: str
) -> None:
    """A refresher losing a CAS race re-reads: only a newer stored token makes it drop its own."""
    a, b = _vault_pair(vault_spec)
    now = time.time()
    current = make_token(now, 600)
    ours = make_token(now + 10, 600)
    theirs = make_token(now + 20, 600) if kept == "theirs" else make_token(now + 5, 600)
    a.set("k", current)
    read = a._read
    raced = False

    def read_then_race(path: str) -> tuple[int, dict[str, Any] | None]:
        nonlocal raced
        result = read(path)
        if not raced:
            raced = True
            if interleaved == "late tombstone":
                assert b.delete_if("k", current.fingerprint) is True
            else:
                b.set("k", theirs)
        return result

    a._read = read_then_race  # type: ignore[method-assign]
    a.set("k", ours)
    a._read = read  # type: ignore[method-assign]
    assert b.get("k") == (ours if kept == "ours" else theirs)


def test_vault_corrupt_lease_counts_as_free(vault_spec: dict[str, str]) -> None:
    """A lease whose expiry cannot be read never reaches the task as a ValueError."""
    import hvac

    from vendorgate.cache._codec import storage_name

    client = hvac.Client(url=vault_spec["url"], token=vault_spec["token"])
    client.secrets.kv.v2.create_or_update_secret(
        path=f"{vault_spec['prefix']}/{storage_name('k')}-lock",
        secret={"owner": "someone", "until": "not a number"},
        mount_point="secret",
    )
    with backend_from_spec(vault_spec).lock("k", ttl_s=30, wait_s=1) as held:
        assert held is True
