"""Stores and locks by name: build a TokenCache from plain options (a spec, a TOML file, a block).

Grammar of the options (``field`` is where they sit in the caller's mapping, "cache")::

    None / {} / {"backend": "memory"}                       -> memory only
    {"backend": "file" | "redis" | "vault" | NAME, **opts}  -> that backend as store AND lock
    {"store": {"backend": N, **opts}, "lock": {"backend": M, **opts}}   -> any pairing
    optional in both forms: "timing": {CacheTiming fields}, "policy": {RefreshPolicy fields},
                            "store_refresh_tokens": bool

Names are registered with :func:`register_store` / :func:`register_lock`, as a factory
or as a ``"module:attr"`` string imported on first use (so the core never imports an
orchestrator). Errors name the field (``cache.backend``, ``cache.store.url``) and list
the accepted names or options; they never show an option's value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError
from vendorgate.cache._base import RefreshLock, TokenStore
from vendorgate.cache._policy import RefreshPolicy
from vendorgate.cache._timing import CacheTiming

if TYPE_CHECKING:
    from vendorgate.cache._cache import TokenCache

__all__ = [
    "cache_from_mapping",
    "cache_options_key",
    "register_lock",
    "register_store",
    "shared_cache",
]

_Factory = Callable[..., Any]

_GUARD = threading.Lock()
# name -> factory or "module:attr"; "memory" is handled before the lookup (no store).
_STORES: dict[str, _Factory | str] = {
    "file": "vendorgate.cache._registry:_file_store",
    "redis": "vendorgate.cache._registry:_redis_store",
    "vault": "vendorgate.cache._registry:_vault_store",
}
_LOCKS: dict[str, _Factory | str] = {
    "file": "vendorgate.cache._registry:_file_lock",
    "redis": "vendorgate.cache._registry:_redis_lock",
    "vault": "vendorgate.cache._registry:_vault_lock",
}
# Names whose single form builds one object that is both (one connection, one session).
_BOTH: dict[str, _Factory | str] = {
    "file": "vendorgate.cache._registry:_file_backend",
    "redis": "vendorgate.cache._registry:_redis_backend",
    "vault": "vendorgate.cache._registry:_vault_backend",
}
_TOP_KEYS = ("timing", "policy", "store_refresh_tokens")


def register_store(name: str, factory: Callable[..., TokenStore] | str) -> None:
    """Make a token store available under ``name`` in cache options.

    Args:
        name: The ``backend`` value that selects it (lower case, digits, ``-``), e.g.
            ``"airflow-variable"``. Registering a name again replaces the factory.
        factory: Called with the options as keyword arguments, returns a
            :class:`TokenStore`; or ``"module:attr"`` naming it, imported on first use.
            Its keyword parameters are the accepted options (unknown ones are errors
            unless it takes ``**kwargs``).

    Raises:
        ConfigurationError: ``name`` or ``factory`` is malformed.
    """
    _register(_STORES, "store", name, factory)


def register_lock(name: str, factory: Callable[..., RefreshLock] | str) -> None:
    """Make a refresh lock available under ``name`` in cache options.

    Args:
        name: The ``backend`` value that selects it, e.g. ``"prefect-gcl"``.
        factory: As for :func:`register_store`, returning a :class:`RefreshLock`.

    Raises:
        ConfigurationError: ``name`` or ``factory`` is malformed.
    """
    _register(_LOCKS, "lock", name, factory)


def _register(table: dict[str, _Factory | str], what: str, name: str, factory: Any) -> None:
    if (
        not isinstance(name, str)
        or not name
        or name == "memory"
        or not all(c.islower() or c.isdigit() or c == "-" for c in name)
    ):
        raise ConfigurationError(
            "must be a lower-case name of letters, digits and '-' other than 'memory', "
            "e.g. 'airflow-variable'",
            field="name",
        )
    if isinstance(factory, str):
        module, sep, attr = factory.partition(":")
        if not sep or not module or not attr:
            raise ConfigurationError(
                f"must be a callable or a 'module:attr' string naming the {what} factory",
                field="factory",
            )
    elif not callable(factory):
        raise ConfigurationError(
            f"must be a callable or a 'module:attr' string naming the {what} factory",
            field="factory",
        )
    with _GUARD:
        table[name] = factory
        _BOTH.pop(name, None)  # a user's registration replaces the built-in pairing


def _resolve(table: dict[str, _Factory | str], name: str, field: str) -> _Factory:
    entry = table[name]
    if not isinstance(entry, str):
        return entry
    module, _, attr = entry.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"{name!r} is registered as {entry!r}, which cannot be imported "
            f"({type(exc).__name__}: {exc}); install the package that provides it",
            field=field,
        ) from exc
    with _GUARD:
        if table.get(name) == entry:
            table[name] = factory
    return factory  # type: ignore[no-any-return]


def _names(table: Mapping[str, object]) -> str:
    return ", ".join(sorted({"memory", *table}))


# ------------------------------------------------------------------------ building


def cache_from_mapping(options: Mapping[str, Any] | None, *, field: str = "cache") -> TokenCache:
    """Build a :class:`TokenCache` from plain options (see the module docstring's grammar).

    Args:
        options: ``None``, ``{}``, ``{"backend": NAME, **opts}`` or
            ``{"store": {...}, "lock": {...}}``, each optionally with ``timing``,
            ``policy`` and ``store_refresh_tokens``.
        field: Where the options sit in the caller's configuration, for error messages.

    Returns:
        A new cache; share it per process with :func:`shared_cache`.

    Raises:
        ConfigurationError: Unknown backend name, unknown or missing option, wrong type.
            The error names the field (``cache.backend``, ``cache.store.url``) and the
            accepted names or options, never an option's value.

    Example:
        >>> cache_from_mapping({"backend": "memory", "timing": {"lock_wait_s": 20}})
        TokenCache(memory only, keys=0)
    """
    from vendorgate.cache._cache import TokenCache

    store, lock, extras = _parse(options, field)
    return TokenCache(store, lock, **extras)


def _parse(
    options: Mapping[str, Any] | None, field: str
) -> tuple[TokenStore | None, RefreshLock | None, dict[str, Any]]:
    if options is None:
        return None, None, {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(
            f"must be a mapping such as {{'backend': 'redis', 'url': ...}}, "
            f"got {type(options).__name__}",
            field=field,
        )
    extras = _extras(options, field)
    rest = {k: v for k, v in options.items() if k not in _TOP_KEYS}
    if "store" in rest or "lock" in rest:
        stray = sorted(str(k) for k in rest if k not in ("store", "lock"))
        if stray:
            raise ConfigurationError(
                f"unknown key(s) {', '.join(stray)} next to 'store'/'lock'; accepted: "
                f"store, lock, {', '.join(_TOP_KEYS)}",
                field=f"{field}.{stray[0]}",
            )
        if "store" not in rest:
            raise ConfigurationError(
                "a lock needs a store to share tokens in; add "
                "'store': {'backend': ...} (accepted: " + _names(_STORES) + ")",
                field=f"{field}.store",
            )
        store = _build_part(rest["store"], _STORES, f"{field}.store", "store")
        lock = None
        if rest.get("lock") is not None:
            lock = _build_part(rest["lock"], _LOCKS, f"{field}.lock", "lock")
            if store is None and lock is not None:
                raise ConfigurationError(
                    "a lock needs a shared store; choose a store backend other than memory",
                    field=f"{field}.store.backend",
                )
        return store, lock, extras
    if not rest:  # {} or only timing/policy: memory only
        return None, None, extras
    name = _backend_name(rest, field, {**_STORES, **_LOCKS})
    if name == "memory":
        _no_options(rest, field, name)
        return None, None, extras
    opts = {k: v for k, v in rest.items() if k != "backend"}
    both = _BOTH.get(name)
    if both is not None:
        made = _call(_resolve(_BOTH, name, f"{field}.backend"), opts, field, name)
        return made, made, extras
    store = lock = None
    if name in _STORES:
        store = _call(_resolve(_STORES, name, f"{field}.backend"), opts, field, name)
    if name in _LOCKS:
        if store is None:
            raise ConfigurationError(
                f"{name!r} is only a lock; give a store too: "
                "{'store': {'backend': ...}, 'lock': {'backend': '" + name + "'}}",
                field=f"{field}.backend",
            )
        lock = _call(_resolve(_LOCKS, name, f"{field}.backend"), opts, field, name)
    return store, lock, extras


def _backend_name(part: Mapping[str, Any], field: str, table: Mapping[str, object]) -> str:
    name = part.get("backend")
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"must name a cache backend; accepted: {_names(table)}", field=f"{field}.backend"
        )
    if name != "memory" and name not in table:
        raise ConfigurationError(
            f"unknown cache backend {name!r}; accepted: {_names(table)}",
            field=f"{field}.backend",
        )
    return name


def _no_options(part: Mapping[str, Any], field: str, name: str) -> None:
    extra = sorted(str(k) for k in part if k != "backend")
    if extra:
        raise ConfigurationError(
            f"the {name} backend takes no options; remove {', '.join(extra)}",
            field=f"{field}.{extra[0]}",
        )


def _build_part(part: object, table: dict[str, _Factory | str], field: str, what: str) -> Any:
    if not isinstance(part, Mapping):
        raise ConfigurationError(
            f"must be a mapping such as {{'backend': ...}}; accepted backends: {_names(table)}",
            field=field,
        )
    name = _backend_name(part, field, table)
    if name == "memory":
        _no_options(part, field, name)
        return None
    opts = {k: v for k, v in part.items() if k != "backend"}
    made = _call(_resolve(table, name, f"{field}.backend"), opts, field, name)
    kind = TokenStore if what == "store" else RefreshLock
    if not isinstance(made, kind):
        raise ConfigurationError(
            f"the {what} factory registered as {name!r} returned {type(made).__name__}, "
            f"not a {kind.__name__}",
            field=f"{field}.backend",
        )
    return made


def _call(factory: _Factory, opts: Mapping[str, Any], field: str, name: str) -> Any:
    """Call ``factory(**opts)``, checking the options against its signature first."""
    try:
        params: Mapping[str, inspect.Parameter] = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = [
        n
        for n, p in params.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and not n.startswith("_")
    ]
    for key in opts:
        if not isinstance(key, str):
            raise ConfigurationError("option names must be strings", field=field)
        if not takes_any and key not in accepted:
            raise ConfigurationError(
                f"unknown option {key!r} of the {name} backend; accepted: "
                f"{', '.join(accepted) or 'none'}",
                field=f"{field}.{key}",
            )
    for n, p in params.items():
        if (
            p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is p.empty
            and n not in opts
        ):
            raise ConfigurationError(f"the {name} backend needs this option", field=f"{field}.{n}")
    try:
        return factory(**opts)
    except ConfigurationError as exc:
        raise _prefixed(exc, field) from None


def _prefixed(exc: ConfigurationError, field: str) -> ConfigurationError:
    """The same error with the field placed under ``field`` (``url`` -> ``cache.store.url``)."""
    message = str(exc)
    if exc.field and message.startswith(f"{exc.field}: "):
        message = message[len(exc.field) + 2 :]
    inner = exc.field
    return ConfigurationError(message, field=f"{field}.{inner}" if inner else field)


def _extras(options: Mapping[str, Any], field: str) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for key, cls in (("timing", CacheTiming), ("policy", RefreshPolicy)):
        value = options.get(key)
        if value is None:
            continue
        sub = f"{field}.{key}"
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"must be a mapping of {cls.__name__} fields", field=sub)
        known = [f.name for f in dataclasses.fields(cls)]
        for k in value:
            if k not in known:
                raise ConfigurationError(
                    f"unknown {key} option {k!r}; accepted: {', '.join(known)}",
                    field=f"{sub}.{k}",
                )
        try:
            extras[key] = cls(**value)
        except ConfigurationError as exc:
            raise _prefixed(exc, sub) from None
        except TypeError as exc:  # pragma: no cover - guarded by the key check
            raise ConfigurationError(str(exc), field=sub) from None
    if "store_refresh_tokens" in options:
        flag = options["store_refresh_tokens"]
        if not isinstance(flag, bool):
            raise ConfigurationError("must be true or false", field=f"{field}.store_refresh_tokens")
        extras["store_refresh_tokens"] = flag
    return extras


# ------------------------------------------------------------------------ sharing


def cache_options_key(options: Mapping[str, Any] | None) -> str:
    """A stable key for ``options``: equal options give equal keys (a hash, no secrets).

    Memory-only spellings (``None``, ``{}``, ``{"backend": "memory"}``) share one key.

    Raises:
        ConfigurationError: ``options`` cannot be serialised as JSON.
    """
    if not options or (isinstance(options, Mapping) and dict(options) == {"backend": "memory"}):
        return "memory"
    try:
        text = json.dumps(options, sort_keys=True, separators=(",", ":"), default=_unjson)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"must be plain JSON data ({exc})", field="cache") from None
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _unjson(value: object) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


_SHARED: dict[str, TokenCache] = {}
_SHARED_GUARD = threading.Lock()


def shared_cache(options: Mapping[str, Any] | None, *, field: str = "cache") -> TokenCache:
    """The one :class:`TokenCache` of this process for ``options`` (built on first use).

    Memory-only options without ``timing``/``policy`` give
    :func:`~vendorgate.cache.default_cache`. Use it wherever a connection builds its
    token provider, so equal cache options share tokens, locks and connections.

    Raises:
        ConfigurationError: As :func:`cache_from_mapping`.
    """
    key = cache_options_key(options)
    if key == "memory":
        from vendorgate.cache._cache import default_cache

        return default_cache()
    cache = _SHARED.get(key)
    if cache is None:
        built = cache_from_mapping(options, field=field)
        with _SHARED_GUARD:
            cache = _SHARED.setdefault(key, built)
        if cache is not built:
            built.close()
    return cache


def _after_fork_in_child() -> None:
    global _GUARD, _SHARED_GUARD
    _GUARD = threading.Lock()
    _SHARED_GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ------------------------------------------------------------------------ built-ins


def _file_store(directory: str) -> TokenStore:
    from vendorgate.cache._file import FileStore

    return FileStore(directory)


def _file_lock(directory: str) -> RefreshLock:
    from vendorgate.cache._file import FileLock

    return FileLock(directory)


def _file_backend(directory: str) -> Any:
    from vendorgate.cache._file import FileBackend

    return FileBackend(directory)


def _redis_kwargs(url: str, prefix: str | None, socket_timeout_s: float | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"url": url}
    if prefix is not None:
        kwargs["prefix"] = prefix
    if socket_timeout_s is not None:
        kwargs["socket_timeout_s"] = socket_timeout_s
    return kwargs


def _redis_store(
    url: str, prefix: str | None = None, socket_timeout_s: float | None = None
) -> TokenStore:
    from vendorgate.cache._redis import RedisStore

    return RedisStore(**_redis_kwargs(url, prefix, socket_timeout_s))


def _redis_lock(
    url: str, prefix: str | None = None, socket_timeout_s: float | None = None
) -> RefreshLock:
    from vendorgate.cache._redis import RedisLock

    return RedisLock(**_redis_kwargs(url, prefix, socket_timeout_s))


def _redis_backend(
    url: str, prefix: str | None = None, socket_timeout_s: float | None = None
) -> Any:
    from vendorgate.cache._redis import RedisBackend

    return RedisBackend(**_redis_kwargs(url, prefix, socket_timeout_s))


def _vault_kwargs(
    mount: str | None, prefix: str | None, vault: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The session (from ``vault`` settings, else the ``VAULT_*`` environment) and paths."""
    from vendorgate.secrets import VaultSession, VaultSettings

    for name, value in (("mount", mount), ("prefix", prefix)):
        if value is not None and (not isinstance(value, str) or not value.strip("/")):
            raise ConfigurationError(
                "must be a non-empty path, e.g. 'secret' or 'vendorgate/token-cache'", field=name
            )
    if vault is not None and not isinstance(vault, Mapping):
        raise ConfigurationError(
            "must be a mapping of Vault settings (url, auth_method, role_id, ...)", field="vault"
        )
    settings = VaultSettings.from_mapping(vault) if vault else VaultSettings.from_env()
    kwargs: dict[str, Any] = {"session": VaultSession.shared(settings)}
    if mount is not None:
        kwargs["mount"] = mount
    if prefix is not None:
        kwargs["prefix"] = prefix
    return kwargs


def _vault_store(
    mount: str | None = None, prefix: str | None = None, vault: Mapping[str, Any] | None = None
) -> TokenStore:
    from vendorgate.cache._vault import VaultKVStore

    return VaultKVStore(**_vault_kwargs(mount, prefix, vault))


def _vault_lock(
    mount: str | None = None, prefix: str | None = None, vault: Mapping[str, Any] | None = None
) -> RefreshLock:
    from vendorgate.cache._vault import VaultLeaseLock

    return VaultLeaseLock(**_vault_kwargs(mount, prefix, vault))


def _vault_backend(
    mount: str | None = None, prefix: str | None = None, vault: Mapping[str, Any] | None = None
) -> Any:
    from vendorgate.cache._vault import VaultKVBackend

    return VaultKVBackend(**_vault_kwargs(mount, prefix, vault))
