"""Secret reference schemes are a registry: adapters add their own without the resolver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vendorgate import ConfigurationError, SecretError, SecretNotFoundError, SecretReferenceError
from vendorgate.secrets import (
    SecretResolver,
    parse_secret_ref,
    register_secret_scheme,
    resolve_local,
    secret_schemes,
    unregister_secret_scheme,
)


@pytest.fixture
def scheme() -> Iterator[str]:
    """A scheme name that is unregistered again after the test."""
    yield "test-store"
    unregister_secret_scheme("test-store")


def test_built_in_schemes_are_registry_entries() -> None:
    """vault, vault+kv1, vault+kv2, env, file and literal are listed like any other scheme."""
    assert secret_schemes()[:6] == ["vault", "vault+kv1", "vault+kv2", "env", "file", "literal"]


def test_registered_scheme_resolves_through_the_resolver(scheme: str) -> None:
    """An adapter's scheme (e.g. airflow-conn:ID#password) is read by the stock resolver."""
    store = {"conn-1#password": "pa55"}
    register_secret_scheme(scheme, store.__getitem__)
    ref = parse_secret_ref(f"{scheme}:conn-1#password", field="client_secret")
    assert (ref.scheme, ref.target, str(ref)) == (
        scheme,
        "conn-1#password",
        f"{scheme}:conn-1#password",
    )
    value = SecretResolver().resolve(f"{scheme}:conn-1#password", field="client_secret")
    assert value.reveal() == "pa55"


def test_registered_scheme_may_be_a_lazy_import_string(scheme: str) -> None:
    """'module:attr' is imported on first use, so registering costs no framework import."""
    register_secret_scheme(scheme, "os.path:basename")
    assert resolve_local(f"{scheme}:/run/secrets/token", field="password").reveal() == "token"


def test_lazy_string_that_cannot_be_imported_names_the_field(scheme: str) -> None:
    """A registration pointing at a missing package fails at use, naming the field."""
    register_secret_scheme(scheme, "no_such_package_xyz:read")
    with pytest.raises(ConfigurationError) as info:
        SecretResolver().resolve(f"{scheme}:x", field="client_secret")
    assert info.value.field == "client_secret"
    assert "no_such_package_xyz:read" in str(info.value)


def test_lookup_error_becomes_secret_not_found_without_the_value(scheme: str) -> None:
    """A missing secret in the source is SecretNotFoundError naming the field."""
    register_secret_scheme(scheme, {}.__getitem__)
    with pytest.raises(SecretNotFoundError, match=r"^client_secret: the test-store: source"):
        SecretResolver().resolve(f"{scheme}:missing", field="client_secret")


def test_other_source_failure_is_a_secret_error(scheme: str) -> None:
    """Any other failure of the source is a SecretError (callers catch one class)."""

    def broken(text: str) -> str:
        raise RuntimeError("backend down: token=abc123")

    register_secret_scheme(scheme, broken)
    with pytest.raises(SecretError) as info:
        SecretResolver().resolve(f"{scheme}:x", field="password")
    assert "abc123" not in str(info.value)
    assert "password" in str(info.value)


def test_source_returning_a_non_string_is_refused(scheme: str) -> None:
    """A source must return text (or a Secret / SecretStr)."""
    register_secret_scheme(scheme, lambda text: 42)
    with pytest.raises(SecretError, match="returned int"):
        SecretResolver().resolve(f"{scheme}:x", field="password")


def test_uncacheable_scheme_is_read_every_time(scheme: str) -> None:
    """cacheable=False makes the resolver ask the source on every resolve."""
    calls: list[str] = []

    def read(text: str) -> str:
        calls.append(text)
        return "v"

    register_secret_scheme(scheme, read, cacheable=False)
    resolver = SecretResolver()
    resolver.resolve(f"{scheme}:a", field="f")
    resolver.resolve(f"{scheme}:a", field="f")
    assert calls == ["a", "a"]


def test_cacheable_scheme_is_read_once_per_ttl(scheme: str) -> None:
    """By default a registered scheme is cached like vault: and file: references."""
    calls: list[str] = []

    def read(text: str) -> str:
        calls.append(text)
        return "v"

    register_secret_scheme(scheme, read)
    resolver = SecretResolver()
    resolver.resolve(f"{scheme}:a", field="f")
    resolver.resolve(f"{scheme}:a", field="f")
    assert calls == ["a"]


def test_unknown_scheme_lists_registered_forms(scheme: str) -> None:
    """The error for an unknown scheme shows every accepted form, registered ones too."""
    register_secret_scheme(scheme, str, form=f"{scheme}:<KEY>")
    with pytest.raises(SecretReferenceError) as info:
        parse_secret_ref("nosuch:thing", field="client_secret")
    assert f"{scheme}:<KEY>" in str(info.value)
    assert "env:<VARIABLE>" in str(info.value)


def test_registered_reference_needs_a_name(scheme: str) -> None:
    """`scheme:` with nothing after it is refused at parse time."""
    register_secret_scheme(scheme, str)
    with pytest.raises(SecretReferenceError, match="needs the name"):
        parse_secret_ref(f"{scheme}:  ", field="client_secret")


@pytest.mark.parametrize("name", ["vault", "env", "file", "literal", "vault+kv2"])
def test_built_in_schemes_cannot_be_replaced(name: str) -> None:
    """A registration cannot hijack vault:, env:, file: or literal: references."""
    with pytest.raises(ConfigurationError, match="built-in"):
        register_secret_scheme(name, str)


@pytest.mark.parametrize("name", ["", "Airflow", "1conn", "a b", "x:y"])
def test_malformed_scheme_name_is_refused(name: str) -> None:
    """Scheme names are lower-case words, so references stay unambiguous."""
    with pytest.raises(ConfigurationError) as info:
        register_secret_scheme(name, str)
    assert info.value.field == "scheme"
