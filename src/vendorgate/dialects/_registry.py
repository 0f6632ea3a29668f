"""The presets registry: dialects registered by name, one vendor module each.

Vendor modules (:mod:`vendorgate.dialects.techwolf`, ``lonewolf``, ``tci``, ``oauth2``,
``wokelo``) call :func:`register` at import; the registry imports them on first use,
including a first :func:`register`, so a custom dialect can never take a preset's name
by being registered before the presets are loaded.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Final

from vendorgate._errors import ConfigurationError, UnknownPresetError

if TYPE_CHECKING:
    from vendorgate.dialects._model import Dialect

__all__ = ["get_dialect", "list_dialects", "register"]

_BUILTIN_MODULES: Final = ("techwolf", "lonewolf", "tci", "oauth2", "wokelo")
_registry: dict[str, Dialect] = {}
_builtin_names: set[str] = set()
_lock = threading.RLock()
_loaded = threading.Event()
_loading = False  # set while the built-in modules import (they call register())


def _load_builtins() -> None:
    global _loading
    if _loaded.is_set():
        return
    with _lock:
        if _loaded.is_set() or _loading:
            return  # loaded meanwhile, or a built-in module registering itself
        _loading = True
        try:
            before = set(_registry)
            for module in _BUILTIN_MODULES:
                importlib.import_module(f"vendorgate.dialects.{module}")
            _builtin_names.update(set(_registry) - before)
            _loaded.set()
        finally:
            _loading = False


def register(dialect: Dialect, *, replace: bool = False) -> Dialect:
    """Register ``dialect`` under its name and return it.

    Args:
        dialect: The dialect to register.
        replace: Allow replacing an existing registration of the same name.

    Raises:
        ConfigurationError: the name is taken (by a preset too) and ``replace`` is false.
    """
    _load_builtins()
    existing = _registry.get(dialect.name)
    if existing is not None and existing != dialect and not replace:
        raise ConfigurationError(
            f"a preset named {dialect.name!r} is already registered; pick another name "
            "or pass replace=True",
            field="name",
        )
    _registry[dialect.name] = dialect
    return dialect


def get_dialect(name: str) -> Dialect:
    """Return the registered preset ``name``.

    Raises:
        UnknownPresetError: no such preset; the message lists the valid names.
    """
    _load_builtins()
    try:
        return _registry[name]
    except (KeyError, TypeError):
        from vendorgate._suggest import did_you_mean

        valid = ", ".join(sorted(_registry))
        hint = did_you_mean(name, _registry)
        raise UnknownPresetError(
            f"unknown preset {name!r}{hint}; valid presets: {valid}", field="preset"
        ) from None


def list_dialects(*, include_custom: bool = True) -> list[Dialect]:
    """Every registered preset, sorted by name.

    Args:
        include_custom: Also list dialects registered at run time with :func:`register`;
            ``False`` lists only the presets shipped with vendorgate.
    """
    _load_builtins()
    names = sorted(_registry) if include_custom else sorted(_builtin_names)
    return [_registry[name] for name in names]
