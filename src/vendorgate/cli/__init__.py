"""The ``vendorgate`` command line.

Subcommands live in one module each (``_sandbox.py``, ``_token.py``, ...). Each module
exposes ``add_parser(subparsers)`` which registers its parser and sets ``func`` to a
callable ``(argparse.Namespace) -> int`` returning the exit code.

Exit codes: 0 success, 1 the operation failed (e.g. token fetch refused), 2 bad usage.
Errors are one line on stderr, name the flag to fix, and never contain a secret.
No parser accepts abbreviated options (``--show`` is not ``--show-token``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# Subcommand modules, imported lazily so that `vendorgate --help` stays fast.
_SUBCOMMAND_MODULES = ("_presets", "_token", "_doctor", "_jwk", "_sandbox", "_demo")

DESCRIPTION = (
    "Fetch and check OAuth 2.0 machine-to-machine tokens for vendor REST APIs "
    "(TechWolf, Lone Wolf, TCI, Wokelo or any RFC 6749 server) in each vendor's own "
    "dialect, with client secrets and keys read from HashiCorp Vault, environment "
    "variables or files; print the public key to register with a vendor; run the "
    "offline vendor sandbox and the demo."
)
EPILOG = """\
examples:
  vendorgate presets
  vendorgate token --preset techwolf-eu --client-id ID \\
      --client-secret vault:secret/vendors/techwolf#client_secret --tenant TENANT
  vendorgate doctor --config vendorgate.toml --profile techwolf --ping /version

exit codes: 0 success, 1 the operation failed, 2 bad usage.
'vendorgate COMMAND --help' describes a command's flags."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error, exit code 2, no abbreviations, "did you mean"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False  # a prefix never stands for an option
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"vendorgate: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is None or value in choices:
            return
        from vendorgate._suggest import did_you_mean

        names = [str(c) for c in choices]
        what = "command" if isinstance(action, argparse._SubParsersAction) else "value"
        where = "" if what == "command" else f"argument {'/'.join(action.option_strings)}: "
        raise argparse.ArgumentError(
            None,
            f"{where}unknown {what} {value!r}{did_you_mean(value, names)}; "
            f"choose from {', '.join(names)}",
        )


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    import textwrap

    from vendorgate import __version__

    parser = _Parser(
        prog="vendorgate",
        description=textwrap.fill(DESCRIPTION, width=79),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"vendorgate {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, title="commands"
    )
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"vendorgate.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"vendorgate.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            found: argparse.ArgumentParser = action.choices[command]
            return found
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    from vendorgate._errors import ConfigurationError, VendorgateError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        # Bare `vendorgate`: the help, on standard output, exit 0.
        parser.print_help(sys.stdout)
        return 0
    if extra:
        _subparser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code: int = args.func(args)
    except ConfigurationError as exc:
        from vendorgate.cli._flags import flag_message

        sys.stderr.write(f"vendorgate: error: {flag_message(exc)}\n")
        return 2
    except VendorgateError as exc:
        sys.stderr.write(f"vendorgate: {type(exc).__name__}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
