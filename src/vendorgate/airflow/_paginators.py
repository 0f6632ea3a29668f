"""Paginator mappings (``{"type": "page_number", ...}``): plain values a trigger can carry."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from vendorgate.http import Paginator

__all__ = ["paginator_from_mapping", "paginator_to_mapping"]

_TYPES = {
    "page_number": "PageNumber",
    "offset_limit": "OffsetLimit",
    "cursor_in_body": "CursorInBody",
    "next_url_in_body": "NextUrlInBody",
    "link_header": "LinkHeader",
}


def paginator_from_mapping(data: Mapping[str, Any] | Paginator, *, field: str) -> Paginator:
    """Build a paginator from ``{"type": NAME, **settings}`` (or pass one through).

    Raises:
        ConfigurationError: unknown type or setting (names ``field`` and lists the valid ones).
    """
    import vendorgate.http as http

    if isinstance(data, http.Paginator):
        return data
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            'must be a paginator or a mapping such as {"type": "page_number"}', field=field
        )
    values = dict(data)
    kind = values.pop("type", None)
    if kind not in _TYPES:
        raise ConfigurationError(
            f"unknown paginator type {kind!r}; use one of {', '.join(_TYPES)}",
            field=f"{field}.type",
        )
    cls = getattr(http, _TYPES[kind])
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in values:
        if key not in known:
            raise ConfigurationError(
                f"unknown setting {key!r} of {kind}; valid: {', '.join(sorted(known))}",
                field=f"{field}.{key}",
            )
    paginator: Paginator = cls(**values)
    return paginator


def paginator_to_mapping(paginator: Paginator | Mapping[str, Any]) -> dict[str, Any]:
    """The plain mapping of a built-in paginator (inverse of :func:`paginator_from_mapping`)."""
    if isinstance(paginator, Mapping):
        return dict(paginator)
    names = {v: k for k, v in _TYPES.items()}
    kind = names.get(type(paginator).__name__)
    if kind is None or not dataclasses.is_dataclass(paginator):
        raise ConfigurationError(
            "only the built-in paginators have a plain form; a Custom one cannot be "
            "serialised for a trigger",
            field="paginator",
        )
    out: dict[str, Any] = {"type": kind}
    for f in dataclasses.fields(paginator):
        value = getattr(paginator, f.name)
        if f.init and value != f.default:
            out[f.name] = value
    return out
