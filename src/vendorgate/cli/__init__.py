"""The ``vendorgate`` command line.

Subcommands live in one module each (``_sandbox.py``, ``_token.py``, ...). Each module
exposes ``add_parser(subparsers)`` which registers its parser and sets ``func`` to a
callable ``(argparse.Namespace) -> int`` returning the exit code.

Exit codes: 0 success, 1 the operation failed (e.g. token fetch refused), 2 bad usage.
Errors are one line on stderr and never contain a secret.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

# Subcommand modules, imported lazily so that `vendorgate --help` stays fast.
_SUBCOMMAND_MODULES = ("_presets", "_token", "_doctor", "_jwk", "_sandbox", "_demo")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"vendorgate: error: {message} (see 'vendorgate --help')\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = _Parser(prog="vendorgate", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"vendorgate.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"vendorgate.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    from vendorgate._errors import ConfigurationError, VendorgateError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigurationError as exc:
        sys.stderr.write(f"vendorgate: error: {exc}\n")
        return 2
    except VendorgateError as exc:
        sys.stderr.write(f"vendorgate: {type(exc).__name__}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
