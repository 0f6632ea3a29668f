"""SecretResolver over env, file and literal references."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vendorgate import _errors
from vendorgate._secret import Secret
from vendorgate.secrets import SecretResolver, default_resolver


def test_env_reference_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """env:VAR returns the variable's value as a Secret."""
    monkeypatch.setenv("VG_TEST_SECRET", "s3cr3t")
    value = SecretResolver().resolve("env:VG_TEST_SECRET", field="client_secret")
    assert isinstance(value, Secret)
    assert value.reveal() == "s3cr3t"


def test_unset_env_var_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset variable raises SecretNotFoundError naming the field and the variable."""
    monkeypatch.delenv("VG_TEST_MISSING", raising=False)
    with pytest.raises(_errors.SecretNotFoundError, match=r"client_secret: .*VG_TEST_MISSING"):
        SecretResolver().resolve("env:VG_TEST_MISSING", field="client_secret")


def test_file_reference_drops_one_trailing_newline(tmp_path: Path) -> None:
    """file:PATH returns the content without the newline editors and Kubernetes add."""
    path = tmp_path / "secret"
    path.write_text("abc\n")
    assert SecretResolver().resolve(f"file:{path}", field="f").reveal() == "abc"


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    """A missing file raises SecretNotFoundError naming the path."""
    with pytest.raises(_errors.SecretNotFoundError, match="does not exist"):
        SecretResolver().resolve(f"file:{tmp_path / 'nope'}", field="f")


def test_literal_reference() -> None:
    """literal:VALUE returns VALUE (for tests and examples)."""
    assert SecretResolver().resolve("literal:xyz", field="f").reveal() == "xyz"


def test_value_is_cached_for_ttl(tmp_path: Path) -> None:
    """A second resolve within ttl_s returns the cached value without reading again."""
    path = tmp_path / "secret"
    path.write_text("one")
    resolver = SecretResolver(ttl_s=300)
    assert resolver.resolve(f"file:{path}", field="f").reveal() == "one"
    path.write_text("two")
    assert resolver.resolve(f"file:{path}", field="f").reveal() == "one"
    resolver.invalidate(f"file:{path}")
    assert resolver.resolve(f"file:{path}", field="f").reveal() == "two"


def test_ttl_zero_reads_every_time(tmp_path: Path) -> None:
    """ttl_s=0 disables caching, so a rotated file is seen at once."""
    path = tmp_path / "secret"
    path.write_text("one")
    resolver = SecretResolver(ttl_s=0)
    resolver.resolve(f"file:{path}", field="f")
    path.write_text("two")
    assert resolver.resolve(f"file:{path}", field="f").reveal() == "two"


def test_concurrent_first_reads_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many threads asking for one reference at once cause a single read."""
    from vendorgate.secrets import _resolver

    reads = 0
    original = _resolver.read_file
    gate = threading.Event()
    entered = threading.Event()

    def counting(ref: object, resolver: object) -> Secret:
        nonlocal reads
        reads += 1
        entered.set()
        gate.wait(5)
        return original(ref, resolver)  # type: ignore[arg-type]

    monkeypatch.setattr(_resolver, "read_file", counting)
    resolver = SecretResolver()
    results: list[str] = []
    path = tmp_path / "s"
    path.write_text("v")
    threads = [
        threading.Thread(
            target=lambda: results.append(resolver.resolve(f"file:{path}", field="f").reveal())
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    assert entered.wait(5)
    gate.set()
    for t in threads:
        t.join(10)
    assert results == ["v"] * 8
    assert reads == 1


def test_negative_ttl_is_configuration_error() -> None:
    """A negative ttl_s raises ConfigurationError naming ttl_s."""
    with pytest.raises(_errors.ConfigurationError, match="ttl_s"):
        SecretResolver(ttl_s=-1)


def test_default_resolver_is_process_wide() -> None:
    """default_resolver() returns the same resolver every time."""
    assert default_resolver() is default_resolver()


def test_resolver_repr_shows_no_values() -> None:
    """repr of a resolver with cached secrets shows no value."""
    resolver = SecretResolver()
    resolver.resolve("literal:topsecret", field="f")
    assert "topsecret" not in repr(resolver)


def test_reread_drops_a_cached_file_secret_once_per_interval(tmp_path: Path) -> None:
    """reread() makes the next resolve read a rotated file, then is rate-limited."""
    path = tmp_path / "secret.txt"
    path.write_text("v1")
    ref = f"file:{path}"
    resolver = SecretResolver(ttl_s=300, reread_interval_s=3600)
    assert resolver.resolve(ref, field="client_secret").reveal() == "v1"
    path.write_text("v2")
    assert resolver.reread([ref]) == [ref]
    assert resolver.resolve(ref, field="client_secret").reveal() == "v2"
    path.write_text("v3")
    assert resolver.reread([ref]) == []
    assert resolver.resolve(ref, field="client_secret").reveal() == "v2"


def test_reread_skips_literals_and_values() -> None:
    """Literals and secret values have nothing to re-read: nothing is dropped."""
    assert SecretResolver().reread(["literal:x", Secret("y")]) == []


def test_reread_interval_must_be_a_number() -> None:
    """A negative reread_interval_s is refused naming the field."""
    with pytest.raises(_errors.ConfigurationError, match="reread_interval_s"):
        SecretResolver(reread_interval_s=-1)
