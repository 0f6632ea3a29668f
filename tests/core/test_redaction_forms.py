"""Redaction, table-driven: every secret field name and credential form it claims to mask."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from vendorgate._secret import redact_text

VALUE = "s3cr3t-Value_42"

# Every field name redact_text masks (JSON keys and form/query parameters).
SECRET_FIELDS = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "clientSecret",
    "client_assertion",
    "assertion",
    "password",
    "private_key",
    "secret",
    "token",
]


def _case_variants(name: str) -> list[str]:
    return sorted({name, name.upper(), name[:1].upper() + name[1:]})


FIELD_FORMS = {
    "json": '{{"error": "invalid_grant", "{name}": "{value}"}}',
    "json-spaced": '{{"{name}" : "{value}", "token_type": "Bearer"}}',
    "json-escaped-quote": '{{"{name}": "{value}\\"tail\\"more"}}',
    "form-first": "{name}={value}&grant_type=client_credentials",
    "form-middle": "grant_type=client_credentials&{name}={value}&scope=read",
    "query": "GET https://api.example.com/x?{name}={value}&page=2 failed",
}


@pytest.mark.parametrize("form", list(FIELD_FORMS))
@pytest.mark.parametrize("name", [v for field in SECRET_FIELDS for v in _case_variants(field)])
def test_secret_field_value_is_masked(name: str, form: str) -> None:
    """A secret field's value is masked in JSON, form and query text, whatever its case."""
    text = FIELD_FORMS[form].format(name=name, value=VALUE)
    out = redact_text(text, limit=1000)
    assert VALUE not in out
    assert "tail" not in out  # the whole JSON string, escaped quotes included
    assert "**********" in out
    assert name in out  # the field name stays: it says what was there


@pytest.mark.parametrize("form", list(FIELD_FORMS))
def test_harmless_fields_are_kept(form: str) -> None:
    """Fields that are not secrets (error, grant_type, page) keep their values."""
    text = FIELD_FORMS[form].format(name="error_description", value=VALUE)
    out = redact_text(text, limit=1000)
    assert VALUE in out
    for kept in ("invalid_grant", "client_credentials", "page=2", '"Bearer"'):
        if kept in text:
            assert kept in out


BASIC = base64.b64encode(b"client-id:" + VALUE.encode()).decode()


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {VALUE}", VALUE),
        (f"authorization: bearer {VALUE}", VALUE),
        (f"Authorization: BEARER {VALUE}", VALUE),
        (f"Authorization: Basic {BASIC}", BASIC),
        (f"authorization: basic {BASIC}", BASIC),
        (f"sent Basic {BASIC} to the token endpoint", BASIC),
    ],
    ids=["bearer", "bearer-lower", "bearer-upper", "basic", "basic-lower", "basic-inline"],
)
def test_authorization_credentials_are_masked(text: str, secret: str) -> None:
    """Bearer and Basic credentials (any case) are masked; the scheme name stays."""
    out = redact_text(text, limit=1000)
    assert secret not in out
    assert secret[:8] not in out
    assert ("basic" if secret == BASIC else "bearer") in out.lower()


JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "text",
    [
        f"token {JWT} in text",
        f'{{"note": "{JWT}"}}',
        f"upstream said: {JWT[:-4]}",  # a JWT cut short by an excerpt
        JWT.rsplit(".", 1)[0] + ".",  # unsigned JWT (empty signature)
    ],
    ids=["text", "json-unknown-field", "truncated", "unsigned"],
)
def test_jwt_shaped_values_are_masked_anywhere(text: str) -> None:
    """Anything shaped like a JWT is masked, in whatever field or sentence it appears."""
    out = redact_text(text, limit=1000)
    assert "eyJzdWIiOiJ4In0" not in out


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END EC PRIVATE KEY-----",
        "key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg",  # cut off before its END line
    ],
    ids=["pkcs8", "rsa", "ec", "unterminated"],
)
def test_pem_blocks_are_masked(text: str) -> None:
    """PEM blocks, including one cut off before its END line, are masked whole."""
    out = redact_text(text, limit=1000)
    assert "MIIEvQ" not in out


def test_known_values_are_masked_in_any_context() -> None:
    """A known secret value is masked wherever it appears, even in no named field."""
    out = redact_text(f"the vendor echoed {VALUE} back", known=(VALUE,), limit=1000)
    assert VALUE not in out
    assert "the vendor echoed" in out


def test_empty_known_value_masks_nothing() -> None:
    """An empty known value does not mask the whole text."""
    assert redact_text("plain text", known=("",)) == "plain text"


def test_excerpt_is_truncated_at_the_limit() -> None:
    """Excerpts are cut at the limit and marked as cut."""
    out = redact_text("a" * 300, limit=50)
    assert out == "a" * 50 + "…"
    assert redact_text("a" * 50, limit=50) == "a" * 50


def test_whitespace_is_collapsed() -> None:
    """Line breaks and runs of spaces become one space (one-line log excerpts)."""
    assert redact_text("a\n\n b\t\tc") == "a b c"


TRICKY = 'p"ä%&' + VALUE


@pytest.mark.parametrize(
    "encoded",
    [
        json.dumps(TRICKY)[1:-1],
        quote(TRICKY, safe=""),
        base64.b64encode(TRICKY.encode()).decode(),
        base64.urlsafe_b64encode(TRICKY.encode()).decode().rstrip("="),
    ],
    ids=["json-escaped", "percent-encoded", "base64", "base64url"],
)
def test_known_value_is_masked_in_its_encodings(encoded: str) -> None:
    """A known secret echoed JSON-escaped, percent-encoded or base64 is masked too."""
    out = redact_text(f"vendor said: {encoded} is wrong", known=(TRICKY,), limit=1000)
    assert encoded not in out


def test_default_excerpt_is_200_characters() -> None:
    """Without a limit, error excerpts keep 200 characters."""
    assert redact_text("b" * 300) == "b" * 200 + "…"


# A value whose every encoding differs: non-ASCII, a quote, a slash, a space, "+", "&",
# "=", "?"; its base64 is padded and holds a "/" (so base64url differs from it).
ECHOED = 'pä"ss/wörd +1&=??'


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _echo_forms(value: str) -> dict[str, str]:
    """Every form in which a server may echo ``value`` back (written out independently)."""
    raw = value.encode()
    ascii_json = json.dumps(value)[1:-1]
    unicode_json = json.dumps(value, ensure_ascii=False)[1:-1]
    b64, b64url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    return {
        "raw": value,
        "json-ascii": ascii_json,
        "json-unicode": unicode_json,
        "json-ascii-slash": ascii_json.replace("/", "\\/"),
        "json-unicode-slash": unicode_json.replace("/", "\\/"),
        "percent": quote(value, safe=""),
        "percent-lower": _lower_hex(quote(value, safe="")),
        "percent-path": quote(value),  # "/" kept, as in a URL path
        "percent-path-lower": _lower_hex(quote(value)),
        "form": quote_plus(value),
        "form-lower": _lower_hex(quote_plus(value)),
        "base64": b64,
        "base64-nopad": b64.rstrip("="),
        "base64url": b64url,
        "base64url-nopad": b64url.rstrip("="),
    }


def test_echo_forms_are_all_different() -> None:
    """The table below tests fifteen distinct forms (a value too plain would test fewer)."""
    forms = _echo_forms(ECHOED)
    assert len(set(forms.values())) == len(forms)


@pytest.mark.parametrize("form", list(_echo_forms(ECHOED)))
def test_every_echoed_form_of_a_known_secret_is_masked_whole(form: str) -> None:
    """A known secret echoed in any encoding is replaced whole: no prefix, suffix or
    fragment of the encoding is left next to the mask."""
    encoded = _echo_forms(ECHOED)[form]
    out = redact_text(f"vendor said [{encoded}] twice: [{encoded}]", known=(ECHOED,), limit=1000)
    assert out == "vendor said [**********] twice: [**********]"


@pytest.mark.parametrize("form", ["percent", "percent-lower", "form", "json-ascii", "base64"])
def test_four_character_secret_is_masked_in_its_encodings(form: str) -> None:
    """Encodings are masked from four characters on (shorter values are masked raw only)."""
    value = "ä/ ?"
    encoded = _echo_forms(value)[form]
    assert redact_text(f"[{encoded}]", known=(value,)) == "[**********]"


def test_a_known_value_inside_another_is_masked_with_it() -> None:
    """When one known value contains another, the longer one is masked whole first."""
    out = redact_text(
        "refused my-secret-value, then secret", known=("secret", "my-secret-value"), limit=1000
    )
    assert out == "refused **********, then **********"
