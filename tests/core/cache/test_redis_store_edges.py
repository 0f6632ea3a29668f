"""What the Redis store and lock promise at their edges, against the local Redis: the
repr, compare-and-delete's answer, the renewal's new TTL (under both names), and the
command each error names when the server is gone."""

from __future__ import annotations

import logging
import socket
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from cache_helpers import REDIS_URL, FakeClock, make_token

from vendorgate import CacheError, ConfigurationError
from vendorgate.cache import RedisBackend, RedisLock, RedisStore
from vendorgate.cache._codec import storage_name

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def client() -> Iterator[redis.Redis[bytes]]:
    c = redis.Redis.from_url(REDIS_URL)
    yield c
    c.close()


def _move_server(client: redis.Redis[bytes], port: int) -> int:
    """The client's next command connects to ``port`` (a closed one: the server is gone)."""
    kwargs = client.connection_pool.connection_kwargs
    before, kwargs["port"] = kwargs["port"], port
    client.connection_pool.disconnect()
    client.connection_pool.reset()  # new connections go to the new address
    return int(before)


def test_repr_names_the_class_the_masked_url_and_the_prefix() -> None:
    """Each Redis class shows its own name, the URL without its password, the prefix."""
    url = "redis://app:s3cret-pw@127.0.0.1:6379/0"
    for cls in (RedisBackend, RedisStore, RedisLock):
        shown = repr(cls(url, prefix="p:"))
        assert shown == f"{cls.__name__}(url='redis://app:***@127.0.0.1:6379/0', prefix='p:')"


def test_repr_of_a_store_on_a_given_client_says_so(client: redis.Redis[bytes]) -> None:
    """With client= there is no URL of ours to show: the repr says it is the caller's client."""
    assert repr(RedisStore(client=client, prefix="p:")) == "RedisStore(url='client', prefix='p:')"


def test_delete_if_answers_whether_it_deleted(redis_prefix: str) -> None:
    """Absent: False. Another token: False, kept. The same token: True, gone."""
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    try:
        token = make_token(time.time(), 600)
        assert store.delete_if("k", token.fingerprint) is False
        store.set("k", token)
        assert store.delete_if("k", "another-fingerprint") is False
        assert store.get("k") == token
        assert store.delete_if("k", token.fingerprint) is True
        assert store.get("k") is None
    finally:
        store.close()


@pytest.mark.parametrize("name", ["renew", "renew_lock"])
def test_renewal_extends_a_held_lock_to_exactly_its_new_ttl(
    redis_prefix: str, client: redis.Redis[bytes], name: str
) -> None:
    """A held lock renewed for 30 s has 30 s left (not more); a lock not held is not renewed."""
    backend = RedisBackend(REDIS_URL, prefix=redis_prefix)
    renew = getattr(backend, name)
    lock_key = redis_prefix + storage_name("k") + ":lock"
    try:
        assert renew("k", ttl_s=30) is False  # not held
        with backend.lock("k", ttl_s=1, wait_s=0) as held:
            assert held
            assert 0 < client.pttl(lock_key) <= 1000
            assert renew("k", ttl_s=30) is True
            assert 29_000 < client.pttl(lock_key) <= 30_000
        assert client.exists(lock_key) == 0
        assert renew("k", ttl_s=30) is False  # released
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("command", "call"),
    [
        ("GET", lambda b: b.get("k")),
        ("SET", lambda b: b.set("k", make_token(time.time(), 600))),
        ("EVALSHA", lambda b: b.delete_if("k", "fp")),
        ("SET NX", lambda b: b.lock("k", ttl_s=1, wait_s=0).__enter__()),
    ],
)
def test_an_unreachable_server_is_a_cache_error_naming_the_command(
    command: str, call: object
) -> None:
    """The error names the Redis command and its exception class, never the URL."""
    backend = RedisBackend(f"redis://:pw@127.0.0.1:{_closed_port()}/0", socket_timeout_s=0.5)
    with pytest.raises(CacheError) as raised:
        call(backend)  # type: ignore[operator]
    assert str(raised.value) == (
        f"Redis {command} failed (ConnectionError); check that the server is up and the URL "
        "is right"
    )


def test_a_renewal_after_the_server_went_away_is_a_cache_error_naming_evalsha(
    redis_prefix: str, client: redis.Redis[bytes]
) -> None:
    """The server goes away while the lock is held: renewing says which command failed."""
    backend = RedisBackend(client=client, prefix=redis_prefix)
    with backend.lock("k", ttl_s=30, wait_s=0) as held:
        assert held
        port = _move_server(client, _closed_port())
        try:
            with pytest.raises(CacheError) as raised:
                backend.renew("k", ttl_s=30)
        finally:
            _move_server(client, port)  # back, so that the lock is released
    assert str(raised.value) == (
        "Redis EVALSHA failed (ConnectionError); check that the server is up and the URL is right"
    )


def test_a_corrupt_entry_is_a_miss_named_as_a_redis_entry(
    redis_prefix: str, client: redis.Redis[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the store, never the entry's content."""
    client.set(redis_prefix + storage_name("k"), "not json at all")
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    try:
        with caplog.at_level(logging.WARNING, logger="vendorgate.cache"):
            assert store.get("k") is None
    finally:
        store.close()
    assert [r.getMessage() for r in caplog.records if r.name == "vendorgate.cache"] == [
        "token cache: ignoring a corrupt redis entry (JSONDecodeError); it counts as a miss"
    ]


@pytest.mark.parametrize(("left_s", "stored"), [(0.5, True), (0.0005, False), (0.0, False)])
def test_a_token_is_stored_for_what_is_left_of_it_down_to_a_millisecond(
    redis_prefix: str, client: redis.Redis[bytes], left_s: float, stored: bool
) -> None:
    """Half a second left: stored for 500 ms. Under a millisecond left: not stored, no error."""
    clock = FakeClock()
    store = RedisStore(REDIS_URL, prefix=redis_prefix, clock=clock)
    token = make_token(clock.now, lifetime_s=left_s)
    try:
        store.set("k", token)
        assert (store.get("k") == token) is stored
    finally:
        store.close()
    if stored:
        assert 0 < client.pttl(redis_prefix + storage_name("k")) <= 500


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://app:p@ss@127.0.0.1:6379/0", "redis://app:***@127.0.0.1:6379/0"),
        ("redis://app:pa:ss@127.0.0.1:6379/0", "redis://app:***@127.0.0.1:6379/0"),
        ("redis://s3cret@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_the_shown_url_hides_every_part_of_the_credentials(url: str, shown: str) -> None:
    """A password with '@' or ':' in it, or a lone user name, never shows, not even in part."""
    assert (
        repr(RedisBackend(url)) == f"RedisBackend(url={shown!r}, prefix='vendorgate:token-cache:')"
    )


def test_an_unparsable_url_is_refused_without_showing_it() -> None:
    """The error names the field and the expected form; the URL itself is not quoted."""
    with pytest.raises(ConfigurationError) as raised:
        RedisBackend("redis://:s3cret@[::1")
    assert str(raised.value) == (
        "url: <unparsable URL> is not a valid Redis URL; use redis://[:password@]host:port/db"
    )


def test_entries_go_under_the_default_prefix(client: redis.Redis[bytes]) -> None:
    """Without prefix=, an entry is the key ``vendorgate:token-cache:<hash>``."""
    key = f"vgtest-default-prefix-{uuid.uuid4().hex}"
    name = "vendorgate:token-cache:" + storage_name(key)
    store = RedisStore(REDIS_URL)
    try:
        store.set(key, make_token(time.time(), 600))
        assert client.exists(name) == 1
    finally:
        client.delete(name)
        store.close()


@pytest.mark.parametrize(("given", "timeout_s"), [({}, 2.0), ({"socket_timeout_s": 0.5}, 0.5)])
def test_connect_and_read_timeouts_are_the_socket_timeout(
    given: dict[str, float], timeout_s: float
) -> None:
    """Both the connect and the read timeout of the client are ``socket_timeout_s`` (2 s)."""
    backend = RedisBackend(REDIS_URL, **given)  # type: ignore[arg-type]
    kwargs = backend._client.connection_pool.connection_kwargs
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (timeout_s, timeout_s)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"prefix": ""}, "prefix: must be a non-empty key prefix, e.g. 'vendorgate:token-cache:'"),
        ({"prefix": 7}, "prefix: must be a non-empty key prefix, e.g. 'vendorgate:token-cache:'"),
        ({"socket_timeout_s": 0}, "socket_timeout_s: must be a number of seconds > 0"),
        ({"socket_timeout_s": -1.0}, "socket_timeout_s: must be a number of seconds > 0"),
        ({"socket_timeout_s": True}, "socket_timeout_s: must be a number of seconds > 0"),
        ({"socket_timeout_s": "2"}, "socket_timeout_s: must be a number of seconds > 0"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(given: dict[str, object], said: str) -> None:
    """An empty or non-text prefix, a timeout that is not a number > 0: refused, named."""
    with pytest.raises(ConfigurationError) as raised:
        RedisBackend(REDIS_URL, **given)  # type: ignore[arg-type]
    assert str(raised.value) == said


@pytest.mark.parametrize(
    "url", ["rediss://127.0.0.1:6380/0", "unix:///run/redis/redis.sock", "redis://127.0.0.1/0"]
)
def test_tls_and_unix_socket_urls_are_accepted(url: str) -> None:
    """rediss:// and unix:// are Redis URLs too (nothing connects before the first command)."""
    assert RedisBackend(url).prefix == "vendorgate:token-cache:"


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", None])
def test_a_url_that_is_not_redis_is_refused_with_the_form_to_use(url: str | None) -> None:
    """Anything but a redis://, rediss:// or unix:// URL (and no client=): refused, named."""
    with pytest.raises(ConfigurationError) as raised:
        RedisBackend(url)
    assert str(raised.value) == "url: must be a redis://host:port/db URL (or pass client=)"


def test_without_the_redis_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The redis package missing: a configuration error naming the extra to install."""
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis raises ImportError
    with pytest.raises(ConfigurationError) as raised:
        RedisBackend(REDIS_URL)
    assert str(raised.value) == (
        "url: the Redis backend needs the redis extra: pip install 'vendorgate[redis]'"
    )
