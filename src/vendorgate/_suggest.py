""" "Did you mean ...?" for unknown names (commands, presets, choices)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` (or ``'x' or 'y'``) for a near miss, else ``""``.

    Names that start with ``value`` win (``techwolf`` -> ``techwolf-eu`` or
    ``techwolf-us``); otherwise close spellings (``tokn`` -> ``token``).
    """
    if not isinstance(value, str) or not value.strip():
        return ""
    names = sorted(set(choices))
    lowered = value.strip().lower()
    hits = [n for n in names if n.lower().startswith(lowered)]
    if not hits:
        hits = difflib.get_close_matches(lowered, names, n=2, cutoff=0.6)
    if not hits or len(hits) > 3:
        return ""
    quoted = [repr(h) for h in hits]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" (did you mean {listed}?)"
