"""Plain-mapping form of small frozen configuration dataclasses (a leaf module).

:func:`dataclass_to_mapping` writes the fields that differ from their defaults as plain
JSON values; :func:`dataclass_from_mapping` rebuilds the object, refusing unknown keys
and values of the wrong type with a :class:`~vendorgate.ConfigurationError` that names
the field under its prefix (``"retry.attempts"``) and the accepted form. Used by
:class:`~vendorgate.http.RetryPolicy`, :class:`~vendorgate.http.RateLimit`, the
paginators and :class:`~vendorgate.VendorConnection`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from vendorgate._errors import ConfigurationError

__all__ = [
    "check_field_types",
    "dataclass_from_mapping",
    "dataclass_to_mapping",
    "join_field",
    "prefixed",
]

T = TypeVar("T")

# Annotation text (``from __future__ import annotations``) -> accepted form and check.
_SCALARS: dict[str, tuple[str, Any]] = {
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": (
        "a number",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    ),
    "str": ("a string", lambda v: isinstance(v, str)),
}


def join_field(prefix: str | None, name: str | None) -> str | None:
    """``"retry"`` + ``"attempts"`` -> ``"retry.attempts"`` (either part may be missing)."""
    if not prefix:
        return name
    if not name:
        return prefix
    return f"{prefix}.{name}"


def prefixed(exc: ConfigurationError, prefix: str) -> ConfigurationError:
    """Return ``exc`` again (same class) with its field moved under ``prefix``.

    ``ConfigurationError("must be >= 1", field="attempts")`` under ``"retry"`` becomes
    ``retry.attempts: must be >= 1``. The message is reused as it is (it never holds a
    secret: errors of the configuration classes never repeat values).
    """
    message = str(exc)
    if exc.field and message.startswith(f"{exc.field}: "):
        message = message[len(exc.field) + 2 :]
    new = type(exc)(message, field=join_field(prefix, exc.field))
    new.__cause__ = exc.__cause__
    return new


def _plain(value: Any) -> Any:
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def dataclass_to_mapping(obj: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of ``obj`` that differ from their defaults, as plain JSON values.

    Sets become sorted lists and tuples lists, so the result is stable and JSON-ready.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.name in skip or not f.init:
            continue
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        out[f.name] = _plain(value)
    return out


def _accepts(annotation: str) -> tuple[str, Any] | None:
    """Accepted form and check for an annotation such as ``float | None``."""
    parts = [p.strip() for p in annotation.split("|")]
    optional = "None" in parts
    parts = [p for p in parts if p != "None"]
    if len(parts) != 1:
        return None
    part = parts[0]
    if part in _SCALARS:
        form, check = _SCALARS[part]
    elif part.startswith(("frozenset[", "tuple[")) and part.endswith("]"):
        inner = part[part.index("[") + 1 : -1].split(",")[0].strip()
        if inner not in _SCALARS:
            return None
        item_form, item_check = _SCALARS[inner]
        form = f"a list of {item_form.removeprefix('a ').removeprefix('an ')}s"

        def check(v: Any, _item: Any = item_check) -> bool:
            return isinstance(v, (list, tuple, set, frozenset)) and all(_item(i) for i in v)

    else:
        return None
    if optional:
        return f"{form} or null", lambda v, _c=check: v is None or _c(v)
    return form, check


def check_field_types(
    cls: type[Any],
    values: Mapping[str, Any],
    *,
    field: str | None = None,
    skip: tuple[str, ...] = (),
) -> None:
    """Refuse values whose type does not fit a field's simple annotation (names the field).

    Fields with annotations other than ``bool``, ``int``, ``float``, ``str``, their
    ``| None`` forms and sets/tuples of those are left to the class's own validation.
    """
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name not in values or not isinstance(f.type, str):
            continue
        accepted = _accepts(f.type)
        if accepted is not None and not accepted[1](values[f.name]):
            raise ConfigurationError(
                f"must be {accepted[0]}, not {type(values[f.name]).__name__}",
                field=join_field(field, f.name),
            )


def dataclass_from_mapping(
    cls: type[T], data: Any, *, field: str, extra: Mapping[str, Any] | None = None
) -> T:
    """Build ``cls`` from a mapping of its fields; errors name ``field.<key>``.

    Args:
        cls: A dataclass whose ``__post_init__`` validates values.
        data: The mapping (a dict, a TOML table); anything else is an error.
        field: Where the mapping sits in the enclosing configuration (``"retry"``).
        extra: Keyword arguments passed as they are (not from ``data``).

    Raises:
        ConfigurationError: ``data`` is not a mapping, has an unknown key, a value of
            the wrong type, or one the class refuses.
    """
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"must be a table of {cls.__name__} settings", field=field)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        f = known.get(key) if isinstance(key, str) else None
        if f is None:
            raise ConfigurationError(
                f"unknown setting {key!r}; valid settings: {', '.join(sorted(known))}",
                field=join_field(field, str(key)),
            )
        accepted = _accepts(f.type) if isinstance(f.type, str) else None
        if accepted is not None:
            form, check = accepted
            if not check(value):
                raise ConfigurationError(
                    f"must be {form}, not {type(value).__name__}",
                    field=join_field(field, key),
                )
            if isinstance(value, (list, tuple, set)) and isinstance(f.type, str):
                value = (
                    frozenset(value) if f.type.lstrip().startswith("frozenset") else tuple(value)
                )
        kwargs[key] = value
    kwargs.update(extra or {})
    try:
        return cls(**kwargs)
    except ConfigurationError as exc:
        raise prefixed(exc, field) from None
