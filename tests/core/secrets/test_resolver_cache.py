"""The resolver's cache as a worker sees it: TTL bounds, early re-reads, async hits, errors.

Time is a frozen ``time.monotonic`` the test moves; secrets live in real files.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from vendorgate import Secret
from vendorgate._errors import ConfigurationError, SecretNotFoundError, SecretReferenceError
from vendorgate.secrets import (
    SecretResolver,
    _resolver,
    register_secret_scheme,
    unregister_secret_scheme,
)
from vendorgate.secrets._resolver import resolve_local


class FrozenClock:
    """``time.monotonic`` that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(time, "monotonic", frozen)
    return frozen


class Rotating:
    """A secret file the test rotates; ``ref`` points at it."""

    def __init__(self, tmp_path: Path, name: str = "secret") -> None:
        self.path = tmp_path / name
        self.ref = f"file:{self.path}"
        self.rotate("v1")

    def rotate(self, value: str) -> None:
        self.path.write_text(value)


def _value(resolver: SecretResolver, ref: str) -> str:
    return resolver.resolve(ref, field="client_secret").reveal()


# -- TTL ------------------------------------------------------------------------------


def test_default_ttl_is_five_minutes(tmp_path: Path, clock: FrozenClock) -> None:
    """Without ttl_s a rotated secret is seen once 300 s have passed, not before."""
    secret = Rotating(tmp_path)
    resolver = SecretResolver()
    assert _value(resolver, secret.ref) == "v1"
    secret.rotate("v2")
    clock.now += 299.5
    assert _value(resolver, secret.ref) == "v1"
    clock.now += 0.5
    assert _value(resolver, secret.ref) == "v2"


def test_value_is_not_served_at_the_moment_its_ttl_ends(tmp_path: Path, clock: FrozenClock) -> None:
    """At exactly ttl_s after the read, the value is read again (the TTL is a bound)."""
    secret = Rotating(tmp_path)
    resolver = SecretResolver(ttl_s=60)
    assert _value(resolver, secret.ref) == "v1"
    secret.rotate("v2")
    clock.now += 60.0
    assert _value(resolver, secret.ref) == "v2"


@pytest.mark.anyio
async def test_async_hit_is_served_without_a_thread(
    tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aresolve() answers a cached reference at once (no worker thread), until its TTL ends."""
    secret = Rotating(tmp_path)
    resolver = SecretResolver(ttl_s=60)
    assert (await resolver.aresolve(secret.ref, field="client_secret")).reveal() == "v1"
    secret.rotate("v2")
    threads: list[object] = []
    real_to_thread = asyncio.to_thread

    async def counting_to_thread(func, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(func)
        return await real_to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting_to_thread)
    clock.now += 59.0
    assert (await resolver.aresolve(secret.ref, field="client_secret")).reveal() == "v1"
    assert threads == []
    clock.now += 1.0  # exactly ttl_s after the read: read again, in a thread
    assert (await resolver.aresolve(secret.ref, field="client_secret")).reveal() == "v2"
    assert len(threads) == 1


def test_a_one_second_ttl_still_caches(tmp_path: Path, clock: FrozenClock) -> None:
    """Only ttl_s=0 turns the cache off: with ttl_s=1 a second call within the second is a hit."""
    secret = Rotating(tmp_path)
    resolver = SecretResolver(ttl_s=1)
    assert _value(resolver, secret.ref) == "v1"
    secret.rotate("v2")
    clock.now += 0.5
    assert _value(resolver, secret.ref) == "v1"


def test_ttl_zero_never_caches(tmp_path: Path, clock: FrozenClock) -> None:
    """ttl_s=0 reads on every call, with the clock standing still, and reread() drops nothing."""
    secret = Rotating(tmp_path)
    resolver = SecretResolver(ttl_s=0)
    assert _value(resolver, secret.ref) == "v1"
    secret.rotate("v2")
    assert _value(resolver, secret.ref) == "v2"
    assert resolver.reread([secret.ref]) == []


def test_a_slow_read_does_not_hold_up_other_secrets(tmp_path: Path) -> None:
    """While one reference's first read hangs, another reference resolves."""
    started, release = threading.Event(), threading.Event()

    def slow(name: str) -> str:
        started.set()
        release.wait(10)
        return "slow-value"

    register_secret_scheme("vg-slow-test", slow)
    try:
        resolver = SecretResolver()
        reader = threading.Thread(
            target=resolver.resolve, args=("vg-slow-test:x",), kwargs={"field": "a"}
        )
        reader.start()
        try:
            assert started.wait(10)
            secret = Rotating(tmp_path)
            assert _value(resolver, secret.ref) == "v1"  # not blocked behind the slow read
            assert reader.is_alive()
        finally:
            release.set()
            reader.join(10)
    finally:
        unregister_secret_scheme("vg-slow-test")


# -- invalidate and reread ------------------------------------------------------------


def test_invalidate_one_reference_keeps_the_others(tmp_path: Path, clock: FrozenClock) -> None:
    """invalidate(ref) forgets that reference only; invalidate() forgets all."""
    first, second = Rotating(tmp_path, "first"), Rotating(tmp_path, "second")
    resolver = SecretResolver()
    assert _value(resolver, first.ref) == "v1"
    assert _value(resolver, second.ref) == "v1"
    first.rotate("v2")
    second.rotate("v2")
    resolver.invalidate(first.ref)
    assert _value(resolver, first.ref) == "v2"
    assert _value(resolver, second.ref) == "v1"
    resolver.invalidate()
    assert _value(resolver, second.ref) == "v2"


def test_invalidating_or_rereading_an_uncached_reference_is_harmless(tmp_path: Path) -> None:
    """A reference never read can be invalidated or re-read without an error."""
    secret = Rotating(tmp_path)
    resolver = SecretResolver()
    resolver.invalidate(secret.ref)
    assert resolver.reread([secret.ref]) == [secret.ref]
    assert _value(resolver, secret.ref) == "v1"


def test_reread_goes_through_the_whole_list(tmp_path: Path, clock: FrozenClock) -> None:
    """Values, literals, repeats and references dropped moments ago are skipped; every
    other reference in the list is dropped."""
    recent, fresh = Rotating(tmp_path, "recent"), Rotating(tmp_path, "fresh")
    resolver = SecretResolver(reread_interval_s=60)
    assert resolver.reread([recent.ref]) == [recent.ref]
    refs = [Secret("v"), "literal:x", recent.ref, fresh.ref, fresh.ref]
    assert resolver.reread(refs) == [fresh.ref]


def test_reread_interval_counts_from_the_last_drop(tmp_path: Path, clock: FrozenClock) -> None:
    """A reference is dropped again once reread_interval_s has passed since its last drop."""
    secret = Rotating(tmp_path)
    resolver = SecretResolver(reread_interval_s=60)
    assert resolver.reread([secret.ref]) == [secret.ref]
    clock.now += 59.5
    assert resolver.reread([secret.ref]) == []
    clock.now += 0.5
    assert resolver.reread([secret.ref]) == [secret.ref]


# -- values and errors ----------------------------------------------------------------


def test_framework_secret_values_are_returned_as_they_are() -> None:
    """A pydantic SecretStr (or a Secret) is a value, not a reference, sync and async."""
    resolver = SecretResolver()
    assert resolver.resolve(SecretStr("from-prefect"), field="f").reveal() == "from-prefect"
    assert asyncio.run(resolver.aresolve(SecretStr("async"), field="f")).reveal() == "async"
    assert resolver.resolve(Secret("s"), field="f").reveal() == "s"


def test_file_secret_drops_one_windows_line_ending(tmp_path: Path) -> None:
    """A secret file written on Windows ("value\\r\\n") gives the value without CR LF."""
    path = tmp_path / "secret"
    path.write_bytes(b"s3cret\r\n")
    assert _value(SecretResolver(), f"file:{path}") == "s3cret"
    path.write_bytes(b"s3cret\r\n\r\n")
    assert _value(SecretResolver(), f"file:{path}") == "s3cret\n"  # one line ending only


def test_unreadable_file_says_why_and_what_to_check(tmp_path: Path) -> None:
    """A file that is not UTF-8 text is a SecretNotFoundError naming the cause and the fix."""
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\xfe binary")
    with pytest.raises(SecretNotFoundError) as info:
        SecretResolver().resolve(f"file:{path}", field="client_secret")
    assert str(info.value) == (
        f"client_secret: cannot read file {path} (UnicodeDecodeError); check its "
        "permissions and that it is UTF-8 text"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.resolve("nonsense", field="client_secret"),
        lambda r: asyncio.run(r.aresolve("nonsense", field="client_secret")),
        lambda r: resolve_local("nonsense", field="client_secret"),
    ],
    ids=["resolve", "aresolve", "resolve_local"],
)
def test_bad_reference_names_the_field(call) -> None:  # type: ignore[no-untyped-def]
    """A reference that does not parse is refused naming the configuration field."""
    with pytest.raises(SecretReferenceError) as info:
        call(SecretResolver())
    assert info.value.field == "client_secret"


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.resolve("env:VG_MUTATE_UNSET", field="client_secret"),
        lambda r: asyncio.run(r.aresolve("env:VG_MUTATE_UNSET", field="client_secret")),
        lambda r: resolve_local("env:VG_MUTATE_UNSET", field="client_secret"),
        lambda r: SecretResolver(ttl_s=0).resolve("env:VG_MUTATE_UNSET", field="client_secret"),
    ],
    ids=["resolve", "aresolve", "resolve_local", "uncached"],
)
def test_missing_secret_names_the_field(call, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A secret that is not there is reported with the field it was meant for first."""
    monkeypatch.delenv("VG_MUTATE_UNSET", raising=False)
    with pytest.raises(SecretNotFoundError) as info:
        call(SecretResolver())
    assert str(info.value) == (
        "client_secret: environment variable VG_MUTATE_UNSET is not set; "
        "export it or fix the reference"
    )


@pytest.mark.parametrize("method", ["invalidate", "reread"])
def test_bad_reference_to_invalidate_or_reread_names_ref(method: str) -> None:
    """invalidate() and reread() refuse a reference that does not parse, naming 'ref'."""
    resolver = SecretResolver()
    arg = "nonsense" if method == "invalidate" else ["nonsense"]
    with pytest.raises(SecretReferenceError) as info:
        getattr(resolver, method)(arg)
    assert info.value.field == "ref"


@pytest.mark.parametrize("field", ["ttl_s", "reread_interval_s"])
@pytest.mark.parametrize("bad", [-1, True, "60", None])
def test_bad_timing_is_refused_naming_the_field(field: str, bad: object) -> None:
    """A negative, boolean or non-numeric ttl_s/reread_interval_s is a ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        SecretResolver(**{field: bad})  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value) == f"{field}: must be a number of seconds >= 0"


def test_default_resolver_is_created_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first default_resolver() call creates the process-wide resolver; later calls
    return it."""
    monkeypatch.setattr(_resolver, "_default", None)
    first = _resolver.default_resolver()
    assert isinstance(first, SecretResolver)
    assert _resolver.default_resolver() is first
