"""Resolve secret references to values, each read once per process and cached briefly."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from vendorgate._errors import ConfigurationError, SecretError, SecretNotFoundError
from vendorgate._secret import Secret
from vendorgate.secrets._ref import SecretRef, parse_secret_ref

if TYPE_CHECKING:
    from vendorgate.secrets._session import VaultSession
    from vendorgate.secrets._settings import VaultSettings

__all__ = ["SecretResolver", "default_resolver", "resolve_local"]


def resolve_local(ref: str | SecretRef, *, field: str) -> Secret:
    """Resolve an ``env:``, ``file:`` or ``literal:`` reference, uncached.

    Raises:
        SecretReferenceError: ``ref`` does not parse.
        ConfigurationError: ``ref`` is a ``vault:`` reference.
        SecretNotFoundError: The variable is unset or the file cannot be read.
    """
    parsed = parse_secret_ref(ref, field=field)
    if parsed.scheme == "literal":
        return Secret(parsed.target)
    if parsed.scheme == "env":
        value = os.environ.get(parsed.target)
        if value is None:
            raise SecretNotFoundError(
                f"{field}: environment variable {parsed.target} is not set; export it or fix "
                "the reference"
            )
        return Secret(value)
    if parsed.scheme == "file":
        path = Path(parsed.target).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SecretNotFoundError(
                f"{field}: file {path} does not exist; create it or fix the reference"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretNotFoundError(
                f"{field}: cannot read file {path} ({type(exc).__name__}); check its "
                "permissions and that it is UTF-8 text"
            ) from None
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        return Secret(text)
    raise ConfigurationError(
        "a Vault reference needs a Vault session here; use env:, file: or literal:", field=field
    )


class SecretResolver:
    """Turns secret references into :class:`~vendorgate.Secret` values.

    Each reference is read once and kept in memory for ``ttl_s`` seconds, so a process
    asking for the same secret a thousand times reads Vault (or the file) once per
    ``ttl_s``. Literal values are never cached. Thread-safe: concurrent first reads of
    one reference do one read.

    Args:
        vault: The Vault session (or settings to get the shared session for) used for
            ``vault:`` references; ``None`` builds one from the ``VAULT_*`` environment
            variables on first use.
        ttl_s: How long a value stays cached, in seconds (``0`` disables caching).

    Example:
        >>> import os
        >>> os.environ["DEMO_SECRET"] = "s3cr3t"
        >>> SecretResolver().resolve("env:DEMO_SECRET", field="client_secret")
        Secret('**********')
    """

    def __init__(
        self, vault: VaultSession | VaultSettings | None = None, *, ttl_s: float = 300.0
    ) -> None:
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, (int, float)) or ttl_s < 0:
            raise ConfigurationError("must be a number of seconds >= 0", field="ttl_s")
        self._vault = vault
        self.ttl_s = float(ttl_s)
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

    def resolve(self, ref: str | SecretRef, *, field: str) -> Secret:
        """Return the secret a reference points to.

        Args:
            ref: A reference such as ``vault:secret/vendors/techwolf#client_secret``.
            field: The configuration field it came from, named in errors.

        Raises:
            SecretReferenceError: The reference does not parse.
            SecretNotFoundError: The variable, file, Vault path or key does not exist.
            VaultError: Vault refused (permission, login) or was unavailable.
        """
        parsed = parse_secret_ref(ref, field=field)
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

    async def aresolve(self, ref: str | SecretRef, *, field: str) -> Secret:
        """Async :meth:`resolve`: a cache hit returns at once, a read runs in a thread."""
        parsed = parse_secret_ref(ref, field=field)
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

    def _read(self, ref: SecretRef, *, field: str) -> Secret:
        if ref.scheme == "vault":
            try:
                return self.vault.read_secret(ref)
            except SecretError as exc:
                # Same class, the field named first, as env: and file: errors do.
                raise type(exc)(f"{field}: {exc}") from exc
        return resolve_local(ref, field=field)


_default: SecretResolver | None = None
_default_lock = threading.Lock()


def default_resolver() -> SecretResolver:
    """The process-wide resolver; Vault settings come from ``VAULT_*`` on first Vault use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SecretResolver()
        return _default
