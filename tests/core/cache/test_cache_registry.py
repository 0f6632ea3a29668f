"""Caches built from plain options: the grammar, registered names, errors naming the field."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cache_helpers import REDIS_URL, CountingFetch, NonAtomicStore

from vendorgate import ConfigurationError
from vendorgate.cache import (
    CacheTiming,
    FileBackend,
    FileLock,
    MemoryLock,
    RedisBackend,
    RedisStore,
    RefreshPolicy,
    TokenCache,
    VaultKVBackend,
    _registry,
    cache_from_mapping,
    cache_options_key,
    default_cache,
    register_lock,
    register_store,
    shared_cache,
)


@pytest.fixture
def registry() -> Iterator[None]:
    """Restore the registered names after a test that registers its own."""
    stores, locks, both = dict(_registry._STORES), dict(_registry._LOCKS), dict(_registry._BOTH)
    yield
    for table, saved in ((_registry._STORES, stores), (_registry._LOCKS, locks)):
        table.clear()
        table.update(saved)
    _registry._BOTH.clear()
    _registry._BOTH.update(both)


@pytest.mark.parametrize("options", [None, {}, {"backend": "memory"}])
def test_memory_spellings_give_a_memory_only_cache(options: dict[str, Any] | None) -> None:
    """No options, empty options and "memory" all mean a per-process cache."""
    cache = cache_from_mapping(options)
    assert cache.store is None
    assert cache.lock is None


def test_single_backend_is_store_and_lock(tmp_path: Path) -> None:
    """{"backend": "file", ...} gives one object used as both store and lock."""
    cache = cache_from_mapping({"backend": "file", "directory": str(tmp_path)})
    assert isinstance(cache.store, FileBackend)
    assert cache.lock is cache.store


def test_pairing_form_builds_each_part(tmp_path: Path) -> None:
    """{"store": ..., "lock": ...} pairs any store with any lock."""
    cache = cache_from_mapping(
        {
            "store": {"backend": "redis", "url": REDIS_URL, "prefix": "vgtest:pairing:"},
            "lock": {"backend": "file", "directory": str(tmp_path)},
        }
    )
    assert isinstance(cache.store, RedisStore)
    assert isinstance(cache.lock, FileLock)
    cache.close()


def test_store_without_lock_in_pairing_form(tmp_path: Path) -> None:
    """A store alone is allowed: tokens are shared, each process fetches under its own locks."""
    cache = cache_from_mapping({"store": {"backend": "file", "directory": str(tmp_path)}})
    assert cache.store is not None
    assert cache.lock is None


def test_timing_and_policy_are_read(tmp_path: Path) -> None:
    """timing and policy options become CacheTiming and RefreshPolicy."""
    cache = cache_from_mapping(
        {
            "backend": "memory",
            "timing": {"lock_wait_s": 20, "lock_ttl_s": 10},
            "policy": {"min_margin_s": 0.5, "clock_skew_s": 0},
            "store_refresh_tokens": False,
        }
    )
    assert cache.timing == CacheTiming(lock_wait_s=20, lock_ttl_s=10)
    assert cache.policy == RefreshPolicy(min_margin_s=0.5, clock_skew_s=0)
    assert cache.store_refresh_tokens is False


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"backend": "memcached"}, "cache.backend"),
        ({"backend": 3}, "cache.backend"),
        ({"backend": "file"}, "cache.directory"),
        ({"backend": "file", "directory": "/tmp/x", "dir": "y"}, "cache.dir"),
        ({"backend": "redis", "url": "http://127.0.0.1:6379"}, "cache.url"),
        ({"backend": "redis", "url": REDIS_URL, "socket_timeout_s": "2"}, "cache.socket_timeout_s"),
        ({"backend": "memory", "url": "x"}, "cache.url"),
        ({"store": {"backend": "redis", "url": "ftp://x"}}, "cache.store.url"),
        ({"store": {"backend": "nope"}}, "cache.store.backend"),
        ({"store": "redis"}, "cache.store"),
        ({"lock": {"backend": "file", "directory": "/tmp/x"}}, "cache.store"),
        (
            {"store": {"backend": "memory"}, "lock": {"backend": "redis", "url": REDIS_URL}},
            "cache.store.backend",
        ),
        ({"store": {"backend": "memory"}, "extra": 1}, "cache.extra"),
        ({"backend": "memory", "timing": {"lock_wait": 3}}, "cache.timing.lock_wait"),
        ({"backend": "memory", "timing": {"lock_wait_s": -1}}, "cache.timing.lock_wait_s"),
        ({"backend": "memory", "policy": {"refresh_ratio": 2}}, "cache.policy.refresh_ratio"),
        ({"backend": "memory", "store_refresh_tokens": "no"}, "cache.store_refresh_tokens"),
        ({"backend": "vault", "mount": ""}, "cache.mount"),
        ({"backend": "vault", "vault": {"nope": 1}}, "cache.vault"),
        ("redis://x", "cache"),
    ],
)
def test_bad_options_name_the_field(options: Any, field: str) -> None:
    """Every malformed option fails at construction with an error naming its field."""
    with pytest.raises(ConfigurationError) as info:
        cache_from_mapping(options)
    assert info.value.field == field


def test_unknown_backend_lists_the_accepted_names() -> None:
    """The error for an unknown backend says which names exist."""
    with pytest.raises(ConfigurationError, match="accepted: ") as info:
        cache_from_mapping({"backend": "memcached"})
    # the built-ins, plus whatever an installed adapter registered (prefect-block, ...)
    accepted = str(info.value).split("accepted: ", 1)[1].split(", ")
    assert {"file", "memory", "redis", "vault"} <= set(accepted)


def test_unknown_option_lists_the_accepted_options() -> None:
    """The error for an unknown option says which options the backend takes."""
    with pytest.raises(ConfigurationError, match="accepted: url, prefix, socket_timeout_s"):
        cache_from_mapping({"backend": "redis", "url": REDIS_URL, "password": "s3cret-pw"})


def test_field_prefix_follows_the_caller() -> None:
    """A caller nesting the options elsewhere gets its own field path in errors."""
    with pytest.raises(ConfigurationError) as info:
        cache_from_mapping({"store": {"backend": "x"}}, field="connections.crm.cache")
    assert info.value.field == "connections.crm.cache.store.backend"


@pytest.mark.parametrize(
    "url",
    [
        "http://:s3cret-pw@127.0.0.1:6379/0",
        "redis://:s3cret-pw@127.0.0.1:notaport/0",
        "rediss://user:s3cret-pw@[::1:6379/0",
    ],
)
def test_errors_never_show_a_redis_password(url: str) -> None:
    """A Redis URL with a password is never printed in full in an error."""
    with pytest.raises(ConfigurationError) as info:
        cache_from_mapping({"store": {"backend": "redis", "url": url}})
    assert "s3cret-pw" not in str(info.value)


def test_redis_repr_masks_the_password() -> None:
    """The repr of a Redis store shows the URL with its password masked."""
    store = RedisBackend("redis://app:s3cret-pw@127.0.0.1:6379/0")
    assert "s3cret-pw" not in repr(store)
    assert "redis://app:***@127.0.0.1:6379/0" in repr(store)
    store.close()


@pytest.mark.slow
def test_vault_backend_takes_its_session_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, vault_for_cache: tuple[str, str]
) -> None:
    """{"backend": "vault"} logs in with the VAULT_* settings, like secret references."""
    url, token = vault_for_cache
    monkeypatch.setenv("VAULT_ADDR", url)
    monkeypatch.setenv("VAULT_TOKEN", token)
    cache = cache_from_mapping({"backend": "vault", "prefix": "vgtest/registry"})
    assert isinstance(cache.store, VaultKVBackend)
    fetch = CountingFetch(time.time, 600)
    token_a = cache.get_or_fetch("k", fetch)
    assert cache.store.get("k") == token_a


# -- registered names ---------------------------------------------------------------------


def test_registered_store_and_lock_by_callable(registry: None) -> None:
    """A registered store and lock are usable by name, alone or paired."""
    store = NonAtomicStore()
    register_store("dict-store", lambda: store)
    register_lock("thread-lock", MemoryLock)
    cache = cache_from_mapping(
        {"store": {"backend": "dict-store"}, "lock": {"backend": "thread-lock"}}
    )
    assert cache.store is store
    assert isinstance(cache.lock, MemoryLock)
    assert cache_from_mapping({"backend": "dict-store"}).lock is None


def test_registered_by_string_is_imported_on_first_use(registry: None) -> None:
    """A "module:attr" registration imports its module only when a cache is built."""
    name = "vgtest_lazy_store_module"
    register_store("lazy-store", f"{name}:make")
    assert name not in sys.modules
    module = types.ModuleType(name)
    module.make = lambda **kw: NonAtomicStore()  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        assert isinstance(cache_from_mapping({"backend": "lazy-store"}).store, NonAtomicStore)
    finally:
        del sys.modules[name]


def test_registered_string_that_cannot_be_imported_names_it(registry: None) -> None:
    """A registration pointing at a missing module fails when used, naming the registration."""
    register_lock("missing-lock", "vgtest_no_such_module:Lock")
    with pytest.raises(ConfigurationError, match="vgtest_no_such_module:Lock") as info:
        cache_from_mapping(
            {
                "store": {"backend": "file", "directory": "/tmp/x"},
                "lock": {"backend": "missing-lock"},
            }
        )
    assert info.value.field == "cache.lock.backend"


def test_only_a_lock_name_in_single_form_is_an_error(registry: None) -> None:
    """A lock-only name as the single backend says to give a store too."""
    register_lock("only-lock", MemoryLock)
    with pytest.raises(ConfigurationError, match="only a lock") as info:
        cache_from_mapping({"backend": "only-lock"})
    assert info.value.field == "cache.backend"


def test_factory_returning_the_wrong_kind_is_an_error(registry: None) -> None:
    """A store factory that returns a lock is caught with the registered name."""
    register_store("wrong", MemoryLock)
    with pytest.raises(ConfigurationError, match="not a TokenStore"):
        cache_from_mapping({"store": {"backend": "wrong"}})


@pytest.mark.parametrize(("name", "factory"), [("Bad Name", MemoryLock), ("x", "no-colon")])
def test_malformed_registrations_are_refused(name: str, factory: Any) -> None:
    """Register names are lower-case words; string factories are module:attr."""
    with pytest.raises(ConfigurationError):
        register_lock(name, factory)


# -- one cache per process for equal options ------------------------------------------------


def test_equal_options_give_equal_keys(tmp_path: Path) -> None:
    """Key order does not matter; different options give different keys."""
    a = {"backend": "file", "directory": str(tmp_path), "timing": {"lock_wait_s": 5}}
    b = {"timing": {"lock_wait_s": 5}, "directory": str(tmp_path), "backend": "file"}
    assert cache_options_key(a) == cache_options_key(b)
    assert cache_options_key(a) != cache_options_key({**a, "directory": "/elsewhere"})
    assert cache_options_key(None) == cache_options_key({"backend": "memory"})


def test_options_key_shows_no_secret() -> None:
    """The key is a hash: a password in the options never appears in it."""
    assert "s3cret" not in cache_options_key({"backend": "redis", "url": "redis://:s3cret@h/0"})


def test_shared_cache_is_one_per_options(tmp_path: Path) -> None:
    """Equal options share one TokenCache in the process; memory-only is the default cache."""
    options = {"backend": "file", "directory": str(tmp_path)}
    cache = shared_cache(options)
    assert shared_cache(dict(options)) is cache
    assert isinstance(cache, TokenCache)
    assert shared_cache(None) is default_cache()
    assert shared_cache({"backend": "file", "directory": str(tmp_path / "b")}) is not cache
