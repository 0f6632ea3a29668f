"""Secret references: the one syntax users write wherever a secret is expected.

Forms (see ``docs/secrets.md``)::

    vault:<mount>/<path>#<key>[@<version>]   KV secret; KV v1 or v2 detected from the mount
    vault+kv2:<mount>/<path>#<key>[@<version>]  KV v2, no detection
    vault+kv1:<mount>/<path>#<key>           KV v1, no detection (no versions)
    env:<VARIABLE>                           an environment variable
    file:<PATH>                              a file's content (one trailing newline dropped)
    literal:<VALUE>                          the value itself (tests and examples only)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from vendorgate._errors import SecretReferenceError

__all__ = ["ACCEPTED_FORMS", "SecretRef", "parse_secret_ref"]

Scheme = Literal["vault", "env", "file", "literal"]

#: One line listing every accepted form, used in error messages and docs.
ACCEPTED_FORMS: Final = (
    "vault:<mount>/<path>#<key>[@<version>], vault+kv1:<mount>/<path>#<key>, "
    "vault+kv2:<mount>/<path>#<key>[@<version>], env:<VARIABLE>, file:<PATH>, literal:<VALUE>"
)

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VAULT_SCHEMES: Final = {"vault": None, "vault+kv1": 1, "vault+kv2": 2}
_MASK: Final = "**********"


@dataclass(frozen=True)
class SecretRef:
    """A parsed secret reference. Its ``str()`` and ``repr()`` never show a literal's value.

    Attributes:
        scheme: ``"vault"``, ``"env"``, ``"file"`` or ``"literal"``.
        target: Vault: ``<mount>/<path>`` (the first segment is taken as the mount unless
            the server reports a longer mount); env: the variable name; file: the path;
            literal: the value itself (never printed).
        key: Vault only: the key inside the secret's data.
        version: Vault KV v2 only: the secret version to read (``None`` = latest).
        kv_version: Vault only: ``1`` or ``2`` when given by the prefix, ``None`` to detect.
    """

    scheme: Scheme
    target: str
    key: str | None = None
    version: int | None = None
    kv_version: int | None = None

    @property
    def mount(self) -> str:
        """Vault only: the first path segment, the mount unless the server says otherwise."""
        return self.target.split("/", 1)[0]

    @property
    def path(self) -> str:
        """Vault only: the secret path below :attr:`mount`."""
        return self.target.split("/", 1)[1] if "/" in self.target else ""

    @property
    def cacheable(self) -> bool:
        """Whether a resolver caches this reference (everything but literals)."""
        return self.scheme != "literal"

    def __str__(self) -> str:
        if self.scheme == "literal":
            return f"literal:{_MASK}"
        if self.scheme == "vault":
            prefix = {None: "vault", 1: "vault+kv1", 2: "vault+kv2"}[self.kv_version]
            text = f"{prefix}:{self.target}#{self.key}"
            return f"{text}@{self.version}" if self.version is not None else text
        return f"{self.scheme}:{self.target}"

    def __repr__(self) -> str:
        return f"SecretRef('{self}')"


def _fail(field: str, why: str) -> SecretReferenceError:
    return SecretReferenceError(
        f"not a valid secret reference ({why}); accepted forms: {ACCEPTED_FORMS}",
        field=field,
    )


def parse_secret_ref(text: str | SecretRef, *, field: str) -> SecretRef:
    """Parse a secret reference such as ``vault:secret/vendors/techwolf#client_secret``.

    Args:
        text: The reference as the user wrote it (or an already parsed one).
        field: The configuration field it came from, named in errors.

    Returns:
        The parsed, frozen :class:`SecretRef`.

    Raises:
        SecretReferenceError: The text is not one of the accepted forms. The message names
            ``field`` and lists the forms; it never repeats the text, which may be a
            secret pasted by mistake.
    """
    if isinstance(text, SecretRef):
        return text
    if not isinstance(text, str):
        raise _fail(field, f"expected a string, got {type(text).__name__}")
    scheme, sep, rest = text.partition(":")
    scheme = scheme.strip().lower()
    if not sep or not scheme:
        raise _fail(field, "no scheme prefix")
    if scheme == "literal":
        return SecretRef("literal", rest)
    if scheme == "env":
        name = rest.strip()
        if not _ENV_NAME_RE.match(name):
            raise _fail(field, "env: needs a variable name such as env:TECHWOLF_SECRET")
        return SecretRef("env", name)
    if scheme == "file":
        path = rest.strip()
        if not path:
            raise _fail(field, "file: needs a path such as file:/run/secrets/techwolf")
        return SecretRef("file", path)
    if scheme in _VAULT_SCHEMES:
        return _parse_vault(rest, kv_version=_VAULT_SCHEMES[scheme], field=field)
    raise _fail(field, "unknown scheme")


def _parse_vault(rest: str, *, kv_version: int | None, field: str) -> SecretRef:
    target, sep, key_part = rest.strip().partition("#")
    target = target.strip("/")
    if not sep or not key_part:
        raise _fail(field, "a vault reference must end in #<key>")
    if "/" not in target or not all(target.split("/")):
        raise _fail(field, "a vault reference needs <mount>/<path> with no empty segment")
    version: int | None = None
    key = key_part
    head, at, tail = key_part.rpartition("@")
    if at and tail.isdigit() and head:
        key, version = head, int(tail)
        if version < 1:
            raise _fail(field, "a secret version starts at 1")
    if kv_version == 1 and version is not None:
        raise _fail(field, "KV v1 secrets have no versions; drop @<version>")
    if not key or "#" in key:
        raise _fail(field, "the key after # is empty or contains #")
    return SecretRef("vault", target, key=key, version=version, kv_version=kv_version)
