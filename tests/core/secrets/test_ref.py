"""Secret reference parsing."""

from __future__ import annotations

import pytest

from vendorgate import _errors
from vendorgate.secrets import SecretRef, parse_secret_ref


def test_vault_reference_parses_mount_path_and_key() -> None:
    """A user writes vault:<mount>/<path>#<key> and gets mount, path and key back."""
    ref = parse_secret_ref("vault:secret/vendors/techwolf#client_secret", field="client_secret")
    assert (ref.scheme, ref.mount, ref.path, ref.key) == (
        "vault",
        "secret",
        "vendors/techwolf",
        "client_secret",
    )
    assert ref.version is None
    assert ref.kv_version is None


def test_vault_reference_with_version() -> None:
    """@<version> after the key pins a KV v2 version."""
    ref = parse_secret_ref("vault:secret/vendors/techwolf#client_secret@3", field="f")
    assert (ref.key, ref.version) == ("client_secret", 3)


def test_key_containing_at_sign_without_digits_is_kept() -> None:
    """A key such as 'user@example' is not mistaken for a version."""
    ref = parse_secret_ref("vault:secret/a#user@example", field="f")
    assert (ref.key, ref.version) == ("user@example", None)


def test_explicit_kv_version_prefixes() -> None:
    """vault+kv1: and vault+kv2: skip the mount-version detection."""
    assert parse_secret_ref("vault+kv1:kv/a#k", field="f").kv_version == 1
    assert parse_secret_ref("vault+kv2:kv/a#k@2", field="f").kv_version == 2


def test_kv1_reference_rejects_a_version() -> None:
    """KV v1 has no versions, so @<version> on vault+kv1: is an error naming the field."""
    with pytest.raises(_errors.SecretReferenceError, match=r"^client_secret: .*KV v1"):
        parse_secret_ref("vault+kv1:kv/a#k@2", field="client_secret")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env:TECHWOLF_SECRET", ("env", "TECHWOLF_SECRET")),
        ("file:/run/secrets/tw", ("file", "/run/secrets/tw")),
        ("literal:abc:def#x", ("literal", "abc:def#x")),
    ],
)
def test_env_file_literal_forms(text: str, expected: tuple[str, str]) -> None:
    """env:, file: and literal: references keep their target verbatim."""
    ref = parse_secret_ref(text, field="f")
    assert (ref.scheme, ref.target) == expected


@pytest.mark.parametrize(
    "text",
    [
        "sk_live_51Habcdefghijkl",  # a pasted secret, no scheme
        "vault:secret/vendors/techwolf",  # no key
        "vault:secret#k",  # no path below the mount
        "vault:secret//x#k",  # empty segment
        "vault:secret/x#",  # empty key
        "env:1BAD",
        "file:   ",
        "s3:bucket/key#x",
    ],
)
def test_bad_reference_names_field_lists_forms_and_hides_value(text: str) -> None:
    """A malformed reference raises SecretReferenceError naming the field, never echoing it."""
    with pytest.raises(_errors.SecretReferenceError) as info:
        parse_secret_ref(text, field="client_secret")
    message = str(info.value)
    assert message.startswith("client_secret: ")
    assert "env:<VARIABLE>" in message
    assert text not in message
    assert info.value.field == "client_secret"


def test_literal_value_never_printed() -> None:
    """str() and repr() of a literal reference mask the value."""
    ref = parse_secret_ref("literal:hunter2-very-secret", field="f")
    assert "hunter2" not in str(ref)
    assert "hunter2" not in repr(ref)


def test_str_round_trips() -> None:
    """str() of a non-literal reference parses back to an equal reference."""
    for text in ["vault:secret/a/b#k@4", "vault+kv1:kv/a#k", "env:X", "file:/tmp/x"]:
        ref = parse_secret_ref(text, field="f")
        assert str(ref) == text
        assert parse_secret_ref(str(ref), field="f") == ref


def test_parsed_reference_is_frozen_and_passes_through() -> None:
    """A SecretRef is immutable and accepted where a string reference is."""
    ref = parse_secret_ref("env:X", field="f")
    assert parse_secret_ref(ref, field="f") is ref
    assert isinstance(ref, SecretRef)
    with pytest.raises(AttributeError):
        ref.target = "Y"  # type: ignore[misc]
