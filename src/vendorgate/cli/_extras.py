"""Optional extras a command needs, checked before it starts anything."""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["missing_extra"]

# extra -> modules it installs that the commands import
_EXTRAS: dict[str, tuple[str, ...]] = {"testing": ("uvicorn", "httptools")}


def missing_extra(command: str, extra: str) -> bool:
    """Print how to install ``extra`` and return True if one of its modules is missing."""
    for module in _EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            sys.stderr.write(
                f"vendorgate: error: 'vendorgate {command}' needs the {extra} extra "
                f"({module} is not installed): pip install 'vendorgate[{extra}]'\n"
            )
            return True
    return False
