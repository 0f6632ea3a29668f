"""What particular backends guarantee beyond the shared contract (test_cache_contract.py)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cache_helpers import CountingFetch, backend_from_spec, make_token, write_raw

from vendorgate import CacheError, ConfigurationError
from vendorgate._errors import VaultPermissionError
from vendorgate.cache import FileBackend, TokenCache, VaultKVBackend, VaultKVStore, VaultLeaseLock
from vendorgate.testing.openbao import OpenBaoServer

if TYPE_CHECKING:
    from vendorgate.secrets import VaultSession

pytestmark = pytest.mark.slow


def test_corrupt_entry_is_replaced_by_the_next_fetch(backend_spec: dict[str, str]) -> None:
    """After a corrupt entry the cache fetches once and stores a good entry again."""
    if backend_spec["kind"] == "memory":
        pytest.skip("the memory backend cannot hold a corrupt entry")
    write_raw(backend_spec, "k", "not json at all")
    fetch = CountingFetch(__import__("time").time, 600)
    token = TokenCache(backend_from_spec(backend_spec)).get_or_fetch("k", fetch)
    assert backend_from_spec(backend_spec).get("k") == token
    assert fetch.calls == 1


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


def _approle_session(openbao: OpenBaoServer, policy: str) -> VaultSession:
    from vendorgate import Secret
    from vendorgate.secrets import VaultSession, VaultSettings

    role_id, secret_id = openbao.create_approle(f"cache-{uuid.uuid4().hex[:8]}", policy_hcl=policy)
    settings = VaultSettings(
        url=openbao.url, auth_method="approle", role_id=role_id, secret_id=Secret(secret_id)
    )
    return VaultSession(settings)


def test_vault_store_uses_the_session_login(openbao: OpenBaoServer) -> None:
    """The Vault store logs in through the worker's VaultSession: one login for everything."""
    prefix = f"vgtest/{uuid.uuid4().hex}"
    session = _approle_session(
        openbao, f'path "secret/data/{prefix}/*" {{ capabilities = ["create", "read", "update"] }}'
    )
    store, lock = VaultKVStore(session, prefix=prefix), VaultLeaseLock(session, prefix=prefix)
    token = make_token(time.time(), 600)
    store.set("k", token)
    with lock.lock("k", ttl_s=30, wait_s=5) as held:
        assert held is True
    assert store.get("k") == token
    assert session.login_count == 1


def test_vault_store_without_write_permission_names_the_capabilities(
    openbao: OpenBaoServer,
) -> None:
    """A policy missing update gives a CacheError (mapped by the session) naming what to grant."""
    prefix = f"vgtest/{uuid.uuid4().hex}"
    session = _approle_session(
        openbao, f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}'
    )
    with pytest.raises(CacheError) as info:
        VaultKVStore(session, prefix=prefix).set("k", make_token(time.time(), 600))
    assert isinstance(info.value.__cause__, VaultPermissionError)
    assert str(info.value).startswith(f"Vault denied write of the token cache at secret/{prefix}")
    assert "create, read and update" in str(info.value)
    assert f"secret/data/{prefix}/*" in str(info.value)


def test_vault_store_rejects_something_that_is_not_a_session() -> None:
    """Passing a settings object or a URL instead of a session names the field."""
    with pytest.raises(ConfigurationError) as info:
        VaultKVStore("http://127.0.0.1:8200")
    assert info.value.field == "session"
    assert str(info.value).endswith(
        "must be a vendorgate.secrets.VaultSession, got str; "
        "e.g. VaultSession.shared(VaultSettings.from_env())"
    )
