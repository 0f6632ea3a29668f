"""Resolve secret references to values, each read once per process and cached briefly."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from vendorgate._errors import ConfigurationError, SecretNotFoundError
from vendorgate._secret import Secret
from vendorgate.secrets._ref import SecretRef, parse_secret_ref, read_secret_ref

if TYPE_CHECKING:
    from collections.abc import Iterable

    from vendorgate.secrets._session import VaultSession
    from vendorgate.secrets._settings import VaultSettings

__all__ = [
    "REREAD_INTERVAL_S",
    "SecretResolver",
    "SecretValue",
    "default_resolver",
    "read_env",
    "read_file",
    "read_literal",
    "read_vault",
    "resolve_local",
    "secret_value",
]


#: A reference a server refused is read again at most once per this many seconds.
REREAD_INTERVAL_S: Final = 60.0


class SecretValue(Protocol):
    """A secret value held by a framework: pydantic's ``SecretStr`` and the like."""

    def get_secret_value(self) -> str: ...


def secret_value(value: object) -> Secret | None:
    """``value`` as a :class:`~vendorgate.Secret` if it is a secret value, else ``None``.

    A :class:`~vendorgate.Secret` is returned as it is; anything with a callable
    ``get_secret_value()`` returning a ``str`` (pydantic's ``SecretStr``) is wrapped.
    Strings (references) and other objects give ``None``.
    """
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return None
    reveal = getattr(value, "get_secret_value", None)
    if callable(reveal):
        inner = reveal()
        if isinstance(inner, str):
            return Secret(inner)
    return None


def resolve_local(ref: str | SecretRef, *, field: str) -> Secret:
    """Resolve a reference that needs no Vault session (``env:``, ``file:``, ``literal:``,
    registered schemes), uncached.

    Raises:
        SecretReferenceError: ``ref`` does not parse.
        ConfigurationError: ``ref`` is a ``vault:`` reference.
        SecretNotFoundError: The variable is unset or the file cannot be read.
    """
    return read_secret_ref(parse_secret_ref(ref, field=field), None, field=field)


# -- readers of the built-in schemes (entries of the registry in _ref.py) ----------------


def read_literal(ref: SecretRef, resolver: SecretResolver | None) -> Secret:
    """``literal:VALUE``: the value itself."""
    return Secret(ref.target)


def read_env(ref: SecretRef, resolver: SecretResolver | None) -> Secret:
    """``env:VARIABLE``: an environment variable."""
    value = os.environ.get(ref.target)
    if value is None:
        raise SecretNotFoundError(
            f"environment variable {ref.target} is not set; export it or fix the reference"
        )
    return Secret(value)


def read_file(ref: SecretRef, resolver: SecretResolver | None) -> Secret:
    """``file:PATH``: a file's UTF-8 content, one trailing newline dropped."""
    path = Path(ref.target).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretNotFoundError(
            f"file {path} does not exist; create it or fix the reference"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretNotFoundError(
            f"cannot read file {path} ({type(exc).__name__}); check its "
            "permissions and that it is UTF-8 text"
        ) from None
    # read_text() reads universal newlines: a Windows "\r\n" arrives here as "\n"
    if text.endswith("\n"):
        text = text[:-1]
    return Secret(text)


def read_vault(ref: SecretRef, resolver: SecretResolver | None) -> Secret:
    """``vault:``, ``vault+kv1:``, ``vault+kv2:``: a KV secret through the resolver's session."""
    assert resolver is not None  # read_secret_ref refuses Vault schemes without one
    return resolver.vault.read_secret(ref)


class SecretResolver:
    """Turns secret references into :class:`~vendorgate.Secret` values.

    Each reference is read once and kept in memory for ``ttl_s`` seconds, so a process
    asking for the same secret a thousand times reads Vault (or the file) once per
    ``ttl_s``. Literal values are never cached. Thread-safe: concurrent first reads of
    one reference do one read. When a server refuses a value (a rotated client secret),
    :meth:`reread` drops it early, at most once per ``reread_interval_s`` per reference.

    Args:
        vault: The Vault session (or settings to get the shared session for) used for
            ``vault:`` references; ``None`` builds one from the ``VAULT_*`` environment
            variables on first use.
        ttl_s: How long a value stays cached, in seconds (``0`` disables caching).
        reread_interval_s: :meth:`reread` drops a reference's value at most once per
            this many seconds (a wrong secret does not make every caller read Vault).

    Example:
        >>> import os
        >>> os.environ["DEMO_SECRET"] = "s3cr3t"
        >>> SecretResolver().resolve("env:DEMO_SECRET", field="client_secret")
        Secret('**********')
    """

    def __init__(
        self,
        vault: VaultSession | VaultSettings | None = None,
        *,
        ttl_s: float = 300.0,
        reread_interval_s: float = REREAD_INTERVAL_S,
    ) -> None:
        for name, number in (("ttl_s", ttl_s), ("reread_interval_s", reread_interval_s)):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                raise ConfigurationError("must be a number of seconds >= 0", field=name)
        self._vault = vault
        self.ttl_s = float(ttl_s)
        self.reread_interval_s = float(reread_interval_s)
        # reference -> monotonic time of its last early drop by reread()
        self._reread_at: dict[str, float] = {}
        self._cache: dict[str, tuple[float, Secret]] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"SecretResolver(ttl_s={self.ttl_s}, cached={len(self._cache)})"

    @property
    def vault(self) -> VaultSession:
        """The Vault session used for ``vault:`` references (built lazily)."""
        from vendorgate.secrets._session import VaultSession
        from vendorgate.secrets._settings import VaultSettings

        with self._lock:
            if self._vault is None:
                self._vault = VaultSettings.from_env()
            if isinstance(self._vault, VaultSettings):
                self._vault = VaultSession.shared(self._vault)
            return self._vault

    def resolve(self, ref: str | SecretRef | SecretValue, *, field: str) -> Secret:
        """Return the secret a reference points to (a secret value is returned as it is).

        Args:
            ref: A reference such as ``vault:secret/vendors/techwolf#client_secret``, or
                a value a framework already holds: a :class:`~vendorgate.Secret` or
                anything with ``get_secret_value()`` (a pydantic ``SecretStr``).
            field: The configuration field it came from, named in errors.

        Raises:
            SecretReferenceError: The reference does not parse.
            SecretNotFoundError: The variable, file, Vault path or key does not exist.
            VaultError: Vault refused (permission, login) or was unavailable.
        """
        value = secret_value(ref)
        if value is not None:
            return value
        parsed = parse_secret_ref(ref, field=field)  # type: ignore[arg-type]
        if not parsed.cacheable or self.ttl_s == 0:
            return self._read(parsed, field=field)
        key = str(parsed)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            value = self._read(parsed, field=field)
            self._cache[key] = (time.monotonic() + self.ttl_s, value)
            return value

    async def aresolve(self, ref: str | SecretRef | SecretValue, *, field: str) -> Secret:
        """Async :meth:`resolve`: a cache hit returns at once, a read runs in a thread."""
        value = secret_value(ref)
        if value is not None:
            return value
        parsed = parse_secret_ref(ref, field=field)  # type: ignore[arg-type]
        hit = self._cache.get(str(parsed)) if parsed.cacheable else None
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        import asyncio

        return await asyncio.to_thread(self.resolve, parsed, field=field)

    def invalidate(self, ref: str | SecretRef | None = None) -> None:
        """Forget one cached reference, or all of them (e.g. after a secret was rotated)."""
        with self._lock:
            if ref is None:
                self._cache.clear()
            else:
                self._cache.pop(str(parse_secret_ref(ref, field="ref")), None)

    def reread(self, refs: Iterable[str | SecretRef | SecretValue]) -> list[str]:
        """Drop the cached values of references a server just refused, so the next
        :meth:`resolve` reads them again (a secret rotated before ``ttl_s`` ran out).

        Each reference is dropped at most once per ``reread_interval_s``; values (a
        :class:`~vendorgate.Secret`), literals and uncached references are skipped.

        Returns:
            The references dropped (masked, as ``str(SecretRef)``); empty when none was.
        """
        if self.ttl_s == 0:
            return []
        dropped: list[str] = []
        now = time.monotonic()
        with self._lock:
            for ref in refs:
                if secret_value(ref) is not None:
                    continue
                parsed = parse_secret_ref(ref, field="ref")  # type: ignore[arg-type]
                key = str(parsed)
                if not parsed.cacheable or key in dropped:
                    continue
                last = self._reread_at.get(key)
                if last is not None and now - last < self.reread_interval_s:
                    continue
                self._reread_at[key] = now
                self._cache.pop(key, None)
                dropped.append(key)
        return dropped

    def _read(self, ref: SecretRef, *, field: str) -> Secret:
        return read_secret_ref(ref, self, field=field)


_default: SecretResolver | None = None
_default_lock = threading.Lock()


def default_resolver() -> SecretResolver:
    """The process-wide resolver; Vault settings come from ``VAULT_*`` on first Vault use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SecretResolver()
        return _default
