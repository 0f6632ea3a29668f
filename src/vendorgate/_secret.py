"""A string that refuses to be printed, and redaction helpers for logs and errors."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["Secret", "redact_text", "secret_variants"]

_MASK: Final = "**********"


class Secret:
    """A secret value (client secret, private key, password, token).

    ``str()``, ``repr()`` and f-strings show a mask; call :meth:`reveal` at the point of
    use only. Equality compares values in constant time; secrets are not hashable, so they
    cannot end up as dict keys or cache keys by accident.

    Example:
        >>> s = Secret("hunter2")
        >>> print(s)
        **********
        >>> s.reveal()
        'hunter2'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value. Call only where the value is sent or used."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, format_spec: str) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        import hmac

        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling is allowed (multiprocessing), but never through repr.
        return (Secret, (self._value,))


# JSON or form fields whose values are secrets.
_SECRET_FIELDS = (
    "access_token|refresh_token|id_token|client_secret|clientSecret|client_assertion|"
    "assertion|password|private_key|secret|token"
)
_JSON_FIELD_RE = re.compile(rf'("(?:{_SECRET_FIELDS})"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
_FORM_FIELD_RE = re.compile(rf"((?:^|[&?])(?:{_SECRET_FIELDS})=)[^&\s]*", re.IGNORECASE)
_BEARER_RE = re.compile(r"(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_PEM_RE = re.compile(r"-----BEGIN [A-Z ]+-----.*?(?:-----END [A-Z ]+-----|$)", re.DOTALL)


#: Encoded forms are only searched for values at least this long (shorter ones would
#: mask ordinary words); the raw value is always masked.
_MIN_VARIANT_CHARS: Final = 4


def secret_variants(value: str) -> tuple[str, ...]:
    """Return ``value`` and the encodings in which a server may echo it back.

    Raw; JSON-escaped (ASCII-escaped or not, ``/`` escaped or not); percent-encoded
    (RFC 3986 and form encoding with ``+``, upper- and lower-case hex); base64 and
    base64url with and without padding. Longest first, so that a longer encoding is
    masked before a shorter one inside it.
    """
    if not value:
        return ()
    out = {value}
    if len(value) >= _MIN_VARIANT_CHARS:
        import base64
        import json
        from urllib.parse import quote, quote_plus

        for ascii_only in (True, False):
            escaped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
            out.update((escaped, escaped.replace("/", "\\/")))
        for encoded in (quote(value, safe=""), quote_plus(value, safe=""), quote(value)):
            out.add(encoded)
            out.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded))
        raw = value.encode("utf-8")
        for b64 in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            text = b64.decode("ascii")
            out.update((text, text.rstrip("=")))
    return tuple(sorted((v for v in out if v), key=len, reverse=True))


def redact_text(text: str, *, limit: int = 200, known: tuple[str, ...] = ()) -> str:
    """Return a short excerpt of ``text`` with secrets masked.

    Masks every string in ``known`` in each encoding :func:`secret_variants` lists,
    JSON and form fields named like secrets, Bearer/Basic credentials, anything shaped
    like a JWT or a PEM block; then truncates to ``limit`` characters.
    """
    variants = {v for value in known for v in secret_variants(value)}
    for variant in sorted(variants, key=len, reverse=True):
        text = text.replace(variant, _MASK)
    text = _PEM_RE.sub(_MASK, text)
    text = _JSON_FIELD_RE.sub(rf'\1"{_MASK}"', text)
    text = _FORM_FIELD_RE.sub(rf"\1{_MASK}", text)
    text = _BEARER_RE.sub(rf"\1{_MASK}", text)
    text = _JWT_RE.sub(_MASK, text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return text
