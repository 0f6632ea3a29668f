"""``vendorgate presets``: one line per registered vendor preset."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    from vendorgate.dialects import list_dialects

    dialects = list_dialects()
    if args.json:
        sys.stdout.write(json.dumps([d.to_mapping() for d in dialects], indent=2) + "\n")
        return 0
    width = max(len(d.name) for d in dialects)
    for d in dialects:
        sys.stdout.write(f"{d.name:<{width}}  {d.description}\n")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``vendorgate presets``."""
    parser = subparsers.add_parser(
        "presets",
        help="list vendor presets with a one-line description",
        description="List the registered vendor presets (token dialects).",
    )
    parser.add_argument("--json", action="store_true", help="print every preset in full as JSON")
    parser.set_defaults(func=_run)
