"""Secret references: the one syntax users write wherever a secret is expected.

Forms (see ``docs/secrets.md``)::

    vault:<mount>/<path>#<key>[@<version>]   KV secret; KV v1 or v2 detected from the mount
    vault+kv2:<mount>/<path>#<key>[@<version>]  KV v2, no detection
    vault+kv1:<mount>/<path>#<key>           KV v1, no detection (no versions)
    env:<VARIABLE>                           an environment variable
    file:<PATH>                              a file's content (one trailing newline dropped)
    literal:<VALUE>                          the value itself (tests and examples only)

Schemes are a registry: :func:`register_secret_scheme` adds one (an adapter adds
``airflow-conn:`` or ``prefect-secret:``) without touching the resolver; the built-in
schemes above are entries of the same registry.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import ConfigurationError, SecretReferenceError

if TYPE_CHECKING:
    from vendorgate._secret import Secret
    from vendorgate.secrets._resolver import SecretResolver

__all__ = [
    "ACCEPTED_FORMS",
    "SecretRef",
    "accepted_forms",
    "parse_secret_ref",
    "read_secret_ref",
    "register_secret_scheme",
    "secret_schemes",
    "unregister_secret_scheme",
]

#: One line listing every built-in form, used in error messages and docs.
ACCEPTED_FORMS: Final = (
    "vault:<mount>/<path>#<key>[@<version>], vault+kv1:<mount>/<path>#<key>, "
    "vault+kv2:<mount>/<path>#<key>[@<version>], env:<VARIABLE>, file:<PATH>, literal:<VALUE>"
)

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*$")
_VAULT_SCHEMES: Final = {"vault": None, "vault+kv1": 1, "vault+kv2": 2}
_MASK: Final = "**********"


@dataclass(frozen=True)
class SecretRef:
    """A parsed secret reference. Its ``str()`` and ``repr()`` never show a literal's value.

    Attributes:
        scheme: ``"vault"``, ``"env"``, ``"file"``, ``"literal"`` or a registered one.
        target: Vault: ``<mount>/<path>`` (the first segment is taken as the mount unless
            the server reports a longer mount); env: the variable name; file: the path;
            literal: the value itself (never printed); a registered scheme: the text
            after ``<scheme>:``.
        key: Vault only: the key inside the secret's data.
        version: Vault KV v2 only: the secret version to read (``None`` = latest).
        kv_version: Vault only: ``1`` or ``2`` when given by the prefix, ``None`` to detect.
    """

    scheme: str
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
        """Whether a resolver caches this reference (literals never; a scheme says)."""
        entry = _SCHEMES.get(self.scheme)
        return entry.cacheable if entry is not None else self.scheme != "literal"

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
        f"not a valid secret reference ({why}); accepted forms: {accepted_forms()}",
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
        SecretReferenceError: The text is not one of the accepted forms (the built-in
            ones and those registered with :func:`register_secret_scheme`). The message
            names ``field`` and lists the forms; it never repeats the text, which may be
            a secret pasted by mistake.
    """
    if isinstance(text, SecretRef):
        return text
    if not isinstance(text, str):
        raise _fail(field, f"expected a string, got {type(text).__name__}")
    scheme, sep, rest = text.partition(":")
    scheme = scheme.strip().lower()
    if not sep or not scheme:
        raise _fail(field, "no scheme prefix")
    entry = _SCHEMES.get(scheme)
    if entry is None:
        raise _fail(field, "unknown scheme")
    return entry.parse(scheme, rest, field)


def _parse_literal(scheme: str, rest: str, field: str) -> SecretRef:
    return SecretRef("literal", rest)


def _parse_env(scheme: str, rest: str, field: str) -> SecretRef:
    name = rest.strip()
    if not _ENV_NAME_RE.match(name):
        raise _fail(field, "env: needs a variable name such as env:TECHWOLF_SECRET")
    return SecretRef("env", name)


def _parse_file(scheme: str, rest: str, field: str) -> SecretRef:
    path = rest.strip()
    if not path:
        raise _fail(field, "file: needs a path such as file:/run/secrets/techwolf")
    return SecretRef("file", path)


def _parse_registered(scheme: str, rest: str, field: str) -> SecretRef:
    target = rest.strip()
    if not target:
        raise _fail(field, f"{scheme}: needs the name of the secret after the colon")
    return SecretRef(scheme, target)


def _parse_vault_ref(scheme: str, rest: str, field: str) -> SecretRef:
    return _parse_vault(rest, kv_version=_VAULT_SCHEMES[scheme], field=field)


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


# -- the scheme registry ----------------------------------------------------------------

#: What a reader gets: the parsed reference and the resolver asking (``None`` when the
#: secret is read without one, e.g. a Vault login secret); it returns the value.
Reader = Callable[["SecretRef", "SecretResolver | None"], "Secret | str"]


@dataclass(frozen=True)
class _Scheme:
    parse: Callable[[str, str, str], SecretRef]  # (scheme, text after ":", field)
    read: Reader | str  # "module:attr" is imported on first use
    cacheable: bool
    form: str
    builtin: bool
    needs_vault: bool = False


_SCHEMES: dict[str, _Scheme] = {}
_registry_lock = threading.Lock()
_BUILTIN_READERS: Final = "vendorgate.secrets._resolver"

for _name, _parse, _form in (
    ("vault", _parse_vault_ref, "vault:<mount>/<path>#<key>[@<version>]"),
    ("vault+kv1", _parse_vault_ref, "vault+kv1:<mount>/<path>#<key>"),
    ("vault+kv2", _parse_vault_ref, "vault+kv2:<mount>/<path>#<key>[@<version>]"),
):
    _SCHEMES[_name] = _Scheme(
        _parse, f"{_BUILTIN_READERS}:read_vault", True, _form, builtin=True, needs_vault=True
    )
_SCHEMES["env"] = _Scheme(_parse_env, f"{_BUILTIN_READERS}:read_env", True, "env:<VARIABLE>", True)
_SCHEMES["file"] = _Scheme(_parse_file, f"{_BUILTIN_READERS}:read_file", True, "file:<PATH>", True)
_SCHEMES["literal"] = _Scheme(
    _parse_literal, f"{_BUILTIN_READERS}:read_literal", False, "literal:<VALUE>", True
)


def _import_attr(spec: str, *, what: str, field: str | None) -> Any:
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ConfigurationError(
            f"{what} must be a callable or a 'module:attr' string", field=field
        )
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"cannot import {spec!r} for {what} ({type(exc).__name__}); install the package "
            "that provides it or fix the registration",
            field=field,
        ) from exc


def register_secret_scheme(
    scheme: str,
    resolve: Callable[[str], Any] | str,
    *,
    cacheable: bool = True,
    form: str | None = None,
) -> None:
    """Add a secret reference scheme, e.g. ``airflow-conn:ID#password``.

    After registration, ``<scheme>:<text>`` is accepted wherever a secret reference is
    (``TokenConfig.client_secret``, a connection spec, a TOML profile), and
    :class:`~vendorgate.secrets.SecretResolver` reads it by calling ``resolve(text)``.
    Registering a scheme again replaces it; the built-in schemes (``vault``,
    ``vault+kv1``, ``vault+kv2``, ``env``, ``file``, ``literal``) cannot be replaced.

    Args:
        scheme: Lower-case name: a letter, then letters, digits, ``+``, ``-`` or ``.``.
        resolve: Gets the text after ``<scheme>:`` and returns the value as a ``str``
            (or a :class:`~vendorgate.Secret`, or anything with ``get_secret_value()``).
            A ``"module:attr"`` string is imported on first use, so registering costs
            no import. A ``LookupError`` it raises becomes
            :class:`~vendorgate.SecretNotFoundError`; other errors become
            :class:`~vendorgate.SecretError` naming the field, never the value.
        cacheable: Whether the resolver keeps the value for its ``ttl_s``.
        form: How the form is shown in error messages (default ``<scheme>:<NAME>``).

    Raises:
        ConfigurationError: the name is malformed or is a built-in scheme.

    Example:
        >>> from vendorgate.secrets import SecretResolver, register_secret_scheme
        >>> register_secret_scheme("demo-store", {"api": "s3cr3t"}.__getitem__)
        >>> SecretResolver().resolve("demo-store:api", field="client_secret").reveal()
        's3cr3t'
    """
    if not isinstance(scheme, str) or not _SCHEME_RE.match(scheme):
        raise ConfigurationError(
            "must be a lower-case name such as 'airflow-conn' (letters, digits, + - .)",
            field="scheme",
        )
    if not (callable(resolve) or isinstance(resolve, str)):
        raise ConfigurationError("must be a callable or a 'module:attr' string", field="resolve")
    with _registry_lock:
        current = _SCHEMES.get(scheme)
        if current is not None and current.builtin:
            raise ConfigurationError(
                f"{scheme!r} is a built-in scheme and cannot be replaced; choose another name",
                field="scheme",
            )

        def read(ref: SecretRef, resolver: SecretResolver | None) -> Any:
            fn = resolve
            if isinstance(fn, str):
                fn = _import_attr(fn, what=f"the {scheme}: secret scheme", field=None)
            return fn(ref.target)

        _SCHEMES[scheme] = _Scheme(
            _parse_registered, read, bool(cacheable), form or f"{scheme}:<NAME>", builtin=False
        )


def unregister_secret_scheme(scheme: str) -> None:
    """Remove a registered (non built-in) scheme; unknown names are ignored (tests)."""
    with _registry_lock:
        entry = _SCHEMES.get(scheme)
        if entry is not None and not entry.builtin:
            del _SCHEMES[scheme]


def secret_schemes() -> list[str]:
    """The names of every accepted scheme, built-in ones first."""
    builtin = [n for n, e in _SCHEMES.items() if e.builtin]
    return builtin + sorted(n for n, e in _SCHEMES.items() if not e.builtin)


def accepted_forms() -> str:
    """One line listing every accepted form (built-in and registered), for messages."""
    extra = sorted(e.form for e in _SCHEMES.values() if not e.builtin)
    return ", ".join([ACCEPTED_FORMS, *extra])


def read_secret_ref(ref: SecretRef, resolver: SecretResolver | None, *, field: str) -> Secret:
    """Read one parsed reference through its scheme's reader (no caching).

    Args:
        ref: The parsed reference.
        resolver: The resolver asking (gives ``vault:`` readers their session); ``None``
            refuses schemes that need Vault.
        field: The configuration field, named first in every error.

    Raises:
        ConfigurationError: the scheme is not registered (any more), or needs Vault and
            no resolver was given.
        SecretError: the reader failed (the class says why; the value is never shown).
    """
    from vendorgate._errors import SecretError, SecretNotFoundError, VendorgateError

    entry = _SCHEMES.get(ref.scheme)
    if entry is None:
        raise _fail(field, "unknown scheme")
    if entry.needs_vault and resolver is None:
        raise ConfigurationError(
            "a Vault reference needs a Vault session here; use env:, file: or literal:",
            field=field,
        )
    read = entry.read
    if isinstance(read, str):
        read = _import_attr(read, what=f"the {ref.scheme}: reader", field=field)
    try:
        value = read(ref, resolver)
    except SecretError as exc:
        if str(exc).startswith(f"{field}: "):
            raise
        # Same class, the field named first.
        raise type(exc)(f"{field}: {exc}") from exc
    except ConfigurationError as exc:
        if exc.field is not None:
            raise
        raise type(exc)(str(exc), field=field) from exc
    except VendorgateError:
        raise
    except LookupError as exc:
        raise SecretNotFoundError(
            f"{field}: the {ref.scheme}: source has no such secret ({type(exc).__name__}); "
            "check the reference"
        ) from exc
    except Exception as exc:
        raise SecretError(
            f"{field}: the {ref.scheme}: source failed ({type(exc).__name__}); check the "
            "reference and the source"
        ) from exc
    return _as_secret(value, scheme=ref.scheme, field=field)


def _as_secret(value: object, *, scheme: str, field: str) -> Secret:
    from vendorgate._errors import SecretError
    from vendorgate._secret import Secret

    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    reveal = getattr(value, "get_secret_value", None)
    if callable(reveal):
        inner = reveal()
        if isinstance(inner, str):
            return Secret(inner)
    raise SecretError(
        f"{field}: the {scheme}: source returned {type(value).__name__}, not a string"
    )
