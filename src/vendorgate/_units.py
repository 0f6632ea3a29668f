"""Human units for what the CLI prints: ms and s for durations, B/KiB/MiB for sizes.

One notation everywhere: a number, a space, the unit (``250 ms``, ``42 s``,
``10800 s (3 h)``, ``20.0 KiB``). Seconds stay the primary unit of durations because
every setting is given in seconds (``timeout_s``, ``expires_in``).
"""

from __future__ import annotations

__all__ = ["format_duration", "format_size"]


def format_duration(seconds: float) -> str:
    """``"250 ms"`` under a second, ``"2.3 s"`` under ten, else whole seconds.

    An hour or more adds hours or days in parentheses: ``"10800 s (3 h)"``.
    """
    if seconds <= 0:
        return "0 s"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    text = f"{round(seconds)} s"
    if seconds >= 86400:
        return f"{text} ({seconds / 86400:.3g} d)"
    if seconds >= 3600:
        return f"{text} ({seconds / 3600:.3g} h)"
    return text


def format_size(size: int) -> str:
    """``"512 B"``, ``"2.0 KiB"``, ``"5.0 MiB"``, ``"1.2 GiB"`` (binary units)."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
