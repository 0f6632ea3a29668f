"""Build a :class:`TokenCache` from plain options: ``{"backend": "redis", "url": ...}``.

A minimal version for the connection spec: the backend is chosen by name (``memory``,
``file``, ``redis``, ``vault``) and the other keys are that backend's options. Errors
name the field under ``field`` (``cache.backend``, ``cache.url``) and list the accepted
names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from vendorgate.cache._base import CacheBackend
    from vendorgate.cache._cache import TokenCache

__all__ = ["BACKEND_NAMES", "cache_from_mapping"]

#: Backend name -> accepted option keys.
BACKEND_NAMES: dict[str, tuple[str, ...]] = {
    "memory": (),
    "file": ("directory",),
    "redis": ("url", "prefix", "socket_timeout_s"),
    "vault": ("vault", "mount", "prefix"),
}


def _sub(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def _backend(name: str, options: dict[str, Any], field: str) -> CacheBackend | None:
    if name == "memory":
        return None
    if name == "file":
        from vendorgate.cache._file import FileBackend

        directory = options.get("directory")
        if not isinstance(directory, str) or not directory:
            raise ConfigurationError(
                "the file backend needs a directory path, e.g. /var/cache/vendorgate",
                field=_sub(field, "directory"),
            )
        return FileBackend(directory)
    if name == "redis":
        from vendorgate.cache._redis import RedisBackend

        return RedisBackend(**options)
    from vendorgate.cache._vault import VaultKVBackend
    from vendorgate.secrets import VaultSession, VaultSettings

    vault = options.pop("vault", None)
    if vault is None:
        settings = VaultSettings.from_env()
    elif isinstance(vault, Mapping):
        settings = VaultSettings.from_mapping(vault)
    else:
        raise ConfigurationError("must be a table of Vault settings", field=_sub(field, "vault"))
    return VaultKVBackend(VaultSession.shared(settings), **options)


def cache_from_mapping(options: Mapping[str, Any] | None, *, field: str = "cache") -> TokenCache:
    """Build a token cache from plain options.

    Args:
        options: ``None`` or ``{}`` (memory only), or ``{"backend": NAME, **opts}`` where
            NAME is ``memory``, ``file`` (``directory``), ``redis`` (``url``, ``prefix``,
            ``socket_timeout_s``) or ``vault`` (``vault``: a table of
            :class:`~vendorgate.secrets.VaultSettings`, default ``VAULT_*``; ``mount``,
            ``prefix``).
        field: Where the options sit in the enclosing configuration (named in errors).

    Raises:
        ConfigurationError: not a table, an unknown backend name or option, or a value
            the backend refuses; the error names the field.
    """
    from vendorgate.cache._cache import TokenCache

    if options is None:
        return TokenCache()
    if not isinstance(options, Mapping):
        raise ConfigurationError(
            'must be a table such as {"backend": "redis", "url": "redis://host:6379/0"}',
            field=field,
        )
    values = dict(options)
    name = values.pop("backend", "memory")
    if not isinstance(name, str) or name not in BACKEND_NAMES:
        raise ConfigurationError(
            f"must be one of {', '.join(BACKEND_NAMES)}", field=_sub(field, "backend")
        )
    for key in values:
        if key not in BACKEND_NAMES[name]:
            accepted = ", ".join(BACKEND_NAMES[name]) or "none"
            raise ConfigurationError(
                f"unknown option {key!r} of the {name} backend; accepted: {accepted}",
                field=_sub(field, str(key)),
            )
    try:
        return TokenCache(_backend(name, values, field))
    except ConfigurationError as exc:
        from vendorgate._mapping import prefixed

        if exc.field and exc.field.startswith(f"{field}."):
            raise
        raise prefixed(exc, field) from None
