"""Validation helpers for configuration objects, written once (a leaf module).

Every frozen configuration (``RetryPolicy``, ``RateLimit``, ``TokenConfig`` ...) checks
its fields with these, so the same kind of value is accepted or refused the same way
everywhere: ``True`` is not a number of seconds, NaN and infinity are never accepted,
and every error is a :class:`~vendorgate.ConfigurationError` naming the field.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["integer", "number", "one_of", "seconds", "text"]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
    or_none: bool = False,
    message: str | None = None,
) -> float:
    """Check a finite real number (never a bool, NaN or infinity) within bounds.

    Args:
        value: The value given.
        field: The field's name, for the error.
        minimum: Lowest value allowed (``None``: no bound).
        maximum: Highest value allowed (``None``: no bound).
        min_inclusive: Whether ``minimum`` itself is allowed.
        max_inclusive: Whether ``maximum`` itself is allowed.
        or_none: The field also accepts ``None`` (the caller checks that): the error
            says so.
        message: The error text (default: says the type and the bounds).

    Returns:
        The value as a float.
    """
    ok = _is_number(value) and math.isfinite(value)  # type: ignore[arg-type]
    if ok and minimum is not None:
        ok = value >= minimum if min_inclusive else value > minimum  # type: ignore[operator]
    if ok and maximum is not None:
        ok = value <= maximum if max_inclusive else value < maximum  # type: ignore[operator]
    if not ok:
        if message is None:
            bounds = []
            if minimum is not None:
                bounds.append(f"{'>=' if min_inclusive else '>'} {minimum:g}")
            if maximum is not None:
                bounds.append(f"{'<=' if max_inclusive else '<'} {maximum:g}")
            message = "must be a finite number" + (" " + " and ".join(bounds) if bounds else "")
        if or_none:
            message += " or None"
        raise ConfigurationError(message, field=field)
    return float(value)  # type: ignore[arg-type]


def seconds(
    value: object,
    field: str,
    *,
    allow_zero: bool = False,
    or_none: bool = False,
    maximum: float | None = None,
) -> float:
    """Check a duration in seconds: a finite number > 0 (or >= 0 with ``allow_zero``).

    Returns:
        The value as a float.
    """
    what = ">= 0" if allow_zero else "> 0"
    message = f"must be a finite number of seconds {what}"
    if maximum is not None:
        message += f" and <= {maximum:g}"
    return number(
        value,
        field,
        minimum=0.0,
        min_inclusive=allow_zero,
        maximum=maximum,
        or_none=or_none,
        message=message,
    )


def integer(value: object, field: str, *, minimum: int = 1, or_none: bool = False) -> int:
    """Check an integer (never a bool) ``>= minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        suffix = " or None" if or_none else ""
        raise ConfigurationError(f"must be an integer >= {minimum}{suffix}", field=field)
    return value


def text(value: object, field: str, *, message: str = "must be a non-empty string") -> str:
    """Check a non-empty string (not only spaces)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(message, field=field)
    return value


def one_of(value: object, choices: Iterable[str], field: str) -> str:
    """Check that ``value`` is one of ``choices`` (the error lists them)."""
    allowed = tuple(choices)
    if not isinstance(value, str) or value not in allowed:
        raise ConfigurationError(f"must be one of {', '.join(allowed)}", field=field)
    return value
