"""The Vault KV cache under concurrent writers, operator deletes and a bare hvac client.

Races are forced, not hoped for: the backend's ``_write`` is wrapped so that another
worker writes right before it (in the window between a check-and-set's read and its
write), against a real OpenBao.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from cache_helpers import FakeClock, make_token, vault_session, write_raw

from vendorgate._errors import CacheError
from vendorgate.cache import VaultKVBackend, VaultKVStore
from vendorgate.cache._codec import storage_name


@pytest.fixture
def spec(vault_for_cache: tuple[str, str]) -> dict[str, str]:
    url, token = vault_for_cache
    return {"kind": "vault", "url": url, "token": token, "prefix": f"vgtest/{uuid.uuid4().hex}"}


def _backend(spec: dict[str, str], **kwargs: Any) -> VaultKVBackend:
    return VaultKVBackend(vault_session(spec), prefix=spec["prefix"], **kwargs)


def _race_before_writes(backend: VaultKVBackend, race: Callable[[], object], times: int) -> None:
    """Run ``race`` right before each of the backend's next ``times`` check-and-set
    writes: after the read whose version the write checks, so each race is one conflict."""
    write = backend._write
    left = times

    def race_then_write(path: str, data: dict[str, Any], *, cas: int) -> None:
        nonlocal left
        if left > 0:
            left -= 1
            race()
        write(path, data, cas=cas)

    backend._write = race_then_write  # type: ignore[method-assign]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- reading ---------------------------------------------------------------------------


def test_an_invalidated_entry_is_a_quiet_miss(
    spec: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """After invalidation the tombstone reads as absent, with no "corrupt entry" warning."""
    store = _backend(spec)
    token = make_token(time.time(), 600)
    store.set("k", token)
    assert store.delete_if("k", token.fingerprint) is True
    caplog.set_level(logging.WARNING)
    assert store.get("k") is None
    assert _warnings(caplog) == []


def test_a_corrupt_entry_is_a_miss_logged_as_a_vault_entry(
    spec: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt entry is a miss, and the warning says which store it is in."""
    write_raw(spec, "k", "{not json")
    caplog.set_level(logging.WARNING)
    assert _backend(spec).get("k") is None
    assert _warnings(caplog) == [
        "token cache: ignoring a corrupt vault entry (TypeError); it counts as a miss"
    ]


def test_a_token_is_served_up_to_its_expiry_and_not_at_it(spec: dict[str, str]) -> None:
    """One moment before ``expires_at`` a hit; at ``expires_at`` a miss (injected clock)."""
    clock = FakeClock()
    store = VaultKVStore(vault_session(spec), prefix=spec["prefix"], clock=clock)
    token = make_token(clock.now, 100.0)
    store.set("k", token)
    clock.now = token.expires_at - 0.5
    assert store.get("k") == token
    clock.now = token.expires_at
    assert store.get("k") is None


def test_repr_names_the_class_mount_and_prefix(spec: dict[str, str]) -> None:
    """The repr shows where the cache lives (and nothing of the session)."""
    session = vault_session(spec)
    assert repr(VaultKVStore(session, mount="/secret/", prefix="/a/b/")) == (
        "VaultKVStore(mount='secret', prefix='a/b')"
    )
    assert repr(_backend(spec)) == f"VaultKVBackend(mount='secret', prefix='{spec['prefix']}')"


# -- writing after a lost check-and-set -------------------------------------------------


def test_an_entry_deleted_by_an_operator_mid_write_is_written_again(spec: dict[str, str]) -> None:
    """Another worker writes, then an operator runs ``bao kv delete`` on the entry: the
    refresher that lost the check-and-set still stores its token."""
    a, b = _backend(spec), _backend(spec)
    now = time.time()
    a.set("k", make_token(now, 600))
    ours = make_token(now + 10, 600)
    path = f"{spec['prefix']}/{storage_name('k')}"

    def write_then_operator_delete() -> None:
        b.set("k", make_token(now + 20, 600))
        client = vault_session(spec)
        client.call(
            lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(
                path=path, mount_point="secret"
            ),
            action="delete",
        )

    _race_before_writes(a, write_then_operator_delete, 1)
    a.set("k", ours)
    assert b.get("k") == ours


def test_a_corrupt_entry_written_mid_write_is_replaced(
    spec: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt entry that won the check-and-set is overwritten, with one vault warning."""
    a, b = _backend(spec), _backend(spec)
    now = time.time()
    a.set("k", make_token(now, 600))
    ours = make_token(now + 10, 600)
    _race_before_writes(a, lambda: write_raw(spec, "k", "{not json"), 1)
    caplog.set_level(logging.WARNING)
    a.set("k", ours)
    assert _warnings(caplog) == [
        "token cache: ignoring a corrupt vault entry (TypeError); it counts as a miss"
    ]
    assert b.get("k") == ours


def test_a_late_tombstone_is_overwritten_without_a_warning(
    spec: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A tombstone that won the check-and-set is not "corrupt": replaced quietly."""
    a, b = _backend(spec), _backend(spec)
    now = time.time()
    current = make_token(now, 600)
    a.set("k", current)
    ours = make_token(now + 10, 600)
    _race_before_writes(a, lambda: b.delete_if("k", current.fingerprint), 1)
    caplog.set_level(logging.WARNING)
    a.set("k", ours)
    assert _warnings(caplog) == []
    assert b.get("k") == ours


def test_a_token_expiring_with_ours_is_kept_not_overwritten(spec: dict[str, str]) -> None:
    """The stored token is replaced only by a later-expiring one: on a tie, theirs stays
    (no extra write, and workers do not swap equal tokens back and forth)."""
    a, b = _backend(spec), _backend(spec)
    now = time.time()
    a.set("k", make_token(now, 600))
    ours, theirs = make_token(now + 10, 600), make_token(now + 10, 600)
    _race_before_writes(a, lambda: b.set("k", theirs), 1)
    a.set("k", ours)
    assert b.get("k") == theirs


# -- invalidation: compare-before-delete ------------------------------------------------


def test_invalidation_never_deletes_a_token_stored_meanwhile(spec: dict[str, str]) -> None:
    """A new token stored between the compare and the delete survives the invalidation."""
    a, b = _backend(spec), _backend(spec)
    now = time.time()
    old, new = make_token(now, 600), make_token(now + 5, 600)
    a.set("k", old)
    _race_before_writes(a, lambda: b.set("k", new), 1)
    assert a.delete_if("k", old.fingerprint) is False
    assert b.get("k") == new


def test_invalidation_retries_when_the_same_token_is_rewritten_meanwhile(
    spec: dict[str, str],
) -> None:
    """A concurrent rewrite of the same token moves the version, not the token: the
    invalidation reads again and deletes it."""
    a, b = _backend(spec), _backend(spec)
    token = make_token(time.time(), 600)
    a.set("k", token)
    _race_before_writes(a, lambda: b._write(b._entry_path("k"), _entry(token), cas=_version(b)), 2)
    assert a.delete_if("k", token.fingerprint) is True
    assert b.get("k") is None


def test_invalidation_gives_up_after_three_conflicting_writes(spec: dict[str, str]) -> None:
    """Three writes in a row between compare and delete: it reports nothing deleted, and
    the entry is still there."""
    a, b = _backend(spec), _backend(spec)
    token = make_token(time.time(), 600)
    a.set("k", token)
    _race_before_writes(a, lambda: b._write(b._entry_path("k"), _entry(token), cas=_version(b)), 3)
    assert a.delete_if("k", token.fingerprint) is False
    assert b.get("k") == token


def _entry(token: Any) -> dict[str, Any]:
    from vendorgate.cache._codec import entry_dict

    return entry_dict(token)


def _version(backend: VaultKVBackend) -> int:
    version, _ = backend._read(backend._entry_path("k"))
    return version


# -- the lease ----------------------------------------------------------------------------


@pytest.fixture
def lapsed_and_retaken(spec: dict[str, str]) -> Iterator[tuple[VaultKVBackend, VaultKVBackend]]:
    """``(a, b)``: a took the lease, it lapsed (clock moved on), and b holds it now."""
    clock = FakeClock(time.time())
    a, b = _backend(spec, clock=clock), _backend(spec, clock=clock)
    with ExitStack() as stack:
        assert stack.enter_context(a.lock("k", ttl_s=5, wait_s=0)) is True
        clock.advance(10)
        assert stack.enter_context(b.lock("k", ttl_s=30, wait_s=0)) is True
        yield a, b


def test_a_lapsed_lease_taken_by_another_worker_is_not_renewed(
    lapsed_and_retaken: tuple[VaultKVBackend, VaultKVBackend],
) -> None:
    """The old holder's renew says False and leaves the new holder's lease alone."""
    a, b = lapsed_and_retaken
    assert a.renew("k", ttl_s=30) is False
    assert b.renew("k", ttl_s=30) is True


def test_a_lease_taken_during_the_renewal_is_not_overwritten(spec: dict[str, str]) -> None:
    """Another worker takes the lapsed lease between the renewal's read and its write:
    the renewal loses the check-and-set and says so."""
    clock = FakeClock(time.time())
    a, b = _backend(spec, clock=clock), _backend(spec, clock=clock)
    with ExitStack() as stack, a.lock("k", ttl_s=5, wait_s=0) as held:
        assert held is True
        clock.advance(10)
        _race_before_writes(a, lambda: stack.enter_context(b.lock("k", ttl_s=30, wait_s=0)), 1)
        assert a.renew("k", ttl_s=30) is False
        assert b.renew("k", ttl_s=30) is True


def test_renew_lock_is_still_renew(spec: dict[str, str]) -> None:
    """The former name extends a held lease and refuses one that is not held."""
    backend = _backend(spec)
    assert backend.renew_lock("k", ttl_s=30) is False
    with backend.lock("k", ttl_s=30, wait_s=0) as held:
        assert held is True
        assert backend.renew_lock("k", ttl_s=30) is True


# -- a logged-in hvac.Client instead of a session --------------------------------------


def test_a_bare_hvac_client_is_used_as_it_is(spec: dict[str, str]) -> None:
    """A logged-in hvac.Client works as the session: tokens written and read back."""
    import hvac

    client = hvac.Client(url=spec["url"], token=spec["token"])
    store = VaultKVStore(client, prefix=spec["prefix"])
    token = make_token(time.time(), 600)
    store.set("k", token)
    assert store.get("k") == token


def test_a_bare_hvac_client_without_access_gets_the_cache_error(spec: dict[str, str]) -> None:
    """Its errors are mapped like a session's: the action, the path and the capabilities."""
    import hvac

    root = hvac.Client(url=spec["url"], token=spec["token"])
    weak = root.auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    store = VaultKVStore(hvac.Client(url=spec["url"], token=weak), prefix=spec["prefix"])
    with pytest.raises(CacheError) as info:
        store.get("k")
    message = str(info.value)
    assert message.startswith(f"Vault denied read of the token cache at secret/{spec['prefix']}")
    assert message.endswith(
        f"the token cache needs create, read and update on secret/data/{spec['prefix']}/*"
    )
    assert weak not in message


# -- configuration ----------------------------------------------------------------------


def test_the_default_place_is_the_documented_one(spec: dict[str, str]) -> None:
    """Without mount and prefix, entries live at ``secret/vendorgate/token-cache``."""
    store = VaultKVStore(vault_session(spec))
    assert (store.mount, store.prefix) == ("secret", "vendorgate/token-cache")


def test_only_slashes_are_trimmed_from_mount_and_prefix(spec: dict[str, str]) -> None:
    """Leading and trailing slashes go; every other character is part of the name."""
    store = VaultKVStore(vault_session(spec), mount="X", prefix="/X/tokens X/")
    assert (store.mount, store.prefix) == ("X", "X/tokens X")
    store = VaultKVStore(vault_session(spec), mount="/X/", prefix="X")
    assert (store.mount, store.prefix) == ("X", "X")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"mount": "/"}, "mount", "must name a KV v2 mount, e.g. 'secret'"),
        ({"mount": None}, "mount", "must name a KV v2 mount, e.g. 'secret'"),
        (
            {"prefix": "//"},
            "prefix",
            "must be a path under the mount, e.g. 'vendorgate/token-cache'",
        ),
        ({"prefix": ""}, "prefix", "must be a path under the mount, e.g. 'vendorgate/token-cache'"),
    ],
)
def test_a_bad_mount_or_prefix_is_refused_naming_it(
    spec: dict[str, str], kwargs: dict[str, Any], field: str, message: str
) -> None:
    """An empty mount or prefix fails at construction, with the field and an example."""
    from vendorgate import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        VaultKVStore(vault_session(spec), **kwargs)
    assert info.value.field == field
    assert str(info.value).endswith(message)


def test_an_object_with_only_a_secrets_attribute_is_not_a_client() -> None:
    """Something that merely has ``secrets`` (no hvac adapter) is refused at construction."""
    from types import SimpleNamespace

    from vendorgate import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        VaultKVStore(SimpleNamespace(secrets=object()))
    assert info.value.field == "session"


def test_a_kv_mount_of_its_own_is_used_for_reads_and_writes(spec: dict[str, str]) -> None:
    """With ``mount=``, entries are written to and read from that KV v2 mount only."""
    import hvac

    root = hvac.Client(url=spec["url"], token=spec["token"])
    mount = f"kv-{uuid.uuid4().hex[:8]}"
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    try:
        store = VaultKVStore(vault_session(spec), mount=mount, prefix=spec["prefix"])
        token = make_token(time.time(), 600)
        store.set("k", token)
        assert store.get("k") == token
        reply = root.secrets.kv.v2.read_secret_version(
            path=f"{spec['prefix']}/{storage_name('k')}",
            mount_point=mount,
            raise_on_deleted_version=False,
        )
        assert reply["data"]["data"]["fp"] == token.fingerprint
        assert VaultKVStore(vault_session(spec), prefix=spec["prefix"]).get("k") is None
    finally:
        root.sys.disable_secrets_engine(mount)


def test_a_missing_mount_is_a_cache_error_naming_the_action(spec: dict[str, str]) -> None:
    """A mount that does not exist: a CacheError saying what was being done, and where
    (the token cache degrades on it instead of failing the task)."""
    mount = f"nosuch-{uuid.uuid4().hex[:8]}"
    store = VaultKVStore(vault_session(spec), mount=mount, prefix="p")
    with pytest.raises(CacheError) as info:
        store.set("k", make_token(time.time(), 600))
    assert f"write of the token cache at {mount}/p" in str(info.value)


def test_a_refresher_gives_up_after_three_conflicting_writes(spec: dict[str, str]) -> None:
    """A tombstone written before each of its writes: it tries 3 times, then leaves it."""
    a, b = _backend(spec), _backend(spec)
    a.set("k", make_token(time.time(), 600))

    def tombstone() -> None:
        b._write(b._entry_path("k"), {"v": 0}, cas=_version(b))

    _race_before_writes(a, tombstone, 3)
    a.set("k", make_token(time.time() + 10, 600))
    assert b.get("k") is None
