"""Secrets stay masked wherever Python would print them."""

from __future__ import annotations

import logging
import pickle

import pytest

from vendorgate._secret import Secret, redact_text


def test_secret_is_masked_in_str_repr_and_format() -> None:
    """A Secret printed, logged or interpolated never shows its value."""
    s = Secret("hunter2-very-secret")
    legacy = ("%s" % s, "{}".format(s))  # noqa: UP031, UP032
    for shown in (str(s), repr(s), f"{s}", f"{s!r}", *legacy):
        assert "hunter2" not in shown


def test_secret_in_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    """Logging a Secret by mistake logs the mask."""
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("secret=%s", Secret("hunter2-very-secret"))
    assert "hunter2" not in caplog.text


def test_secret_reveal_and_equality() -> None:
    """reveal() gives the value back; equality compares values."""
    assert Secret("a").reveal() == "a"
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")


def test_secret_is_not_hashable() -> None:
    """A Secret cannot become a dict key or cache key by accident."""
    with pytest.raises(TypeError):
        hash(Secret("a"))


def test_secret_survives_pickle_for_multiprocessing() -> None:
    """A Secret can cross a process boundary and keeps its value."""
    assert pickle.loads(pickle.dumps(Secret("xyz"))).reveal() == "xyz"


def test_secret_rejects_non_str() -> None:
    """Wrapping something that is not text is a programming error, said clearly."""
    with pytest.raises(TypeError, match="str"):
        Secret(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        '{"access_token": "abc.def.ghi", "token_type": "Bearer"}',
        '{"error": "x", "refresh_token": "r-123456"}',
        "client_id=me&client_secret=s3cr3tvalue&grant_type=client_credentials",
        "Authorization: Bearer abcdef123456",
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl in text",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
        '{"clientSecret": "s3cr3tvalue"}',
    ],
)
def test_redact_text_masks_secret_shapes(body: str) -> None:
    """Body excerpts in errors never carry tokens, secrets, assertions or keys."""
    out = redact_text(body)
    for needle in (
        "abc.def.ghi",
        "r-123456",
        "s3cr3tvalue",
        "abcdef123456",
        "c2lnbmF0dXJl",
        "MIIEvQ",
    ):
        assert needle not in out


def test_redact_text_masks_known_values_and_truncates() -> None:
    """Known secret values are masked anywhere, and excerpts stay short."""
    out = redact_text("prefix my-known-value " + "x" * 500, known=("my-known-value",), limit=50)
    assert "my-known-value" not in out
    assert len(out) <= 51


def test_redact_text_keeps_harmless_content() -> None:
    """Redaction keeps what helps debugging: error codes and descriptions."""
    out = redact_text('{"error": "invalid_client", "error_description": "Unknown client"}')
    assert "invalid_client" in out
    assert "Unknown client" in out
