"""``vendorgate sandbox``: run the vendor sandbox in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser"]


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


def _port(text: str) -> int:
    value = _non_negative(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (0..65535)")
    return value


def add_parser(subparsers: Any) -> None:
    """Register the ``sandbox`` subcommand."""
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local vendor sandbox (all five token dialects, data API)",
        description=(
            "Run the vendor sandbox in the foreground until Ctrl-C or SIGTERM. Prints its "
            "URL (or, with --print-config, one line of JSON with the token URLs, audiences "
            "and demo client credentials) once it listens."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument(
        "--dataset-size", type=_non_negative, default=1000, help="records in the data API"
    )
    parser.add_argument(
        "--record-bytes", type=_non_negative, default=200, help="approximate bytes per record"
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print one line of JSON (URLs, audiences, demo credentials) instead of the URL",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from vendorgate.cli._extras import missing_extra

    if missing_extra("sandbox", "testing"):
        return 1
    from vendorgate._errors import ConfigurationError
    from vendorgate.testing.sandbox._app import SandboxApp, sandbox_config
    from vendorgate.testing.sandbox._server import build_server
    from vendorgate.testing.sandbox._state import SandboxState

    state = SandboxState(dataset_size=args.dataset_size, record_bytes=args.record_bytes)

    def on_ready(url: str) -> None:
        if args.print_config:
            line = json.dumps(sandbox_config(url, state), separators=(",", ":"))
        else:
            line = url
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    server = build_server(SandboxApp(state), args.host, args.port, on_ready=on_ready)
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits 1 when it cannot bind
        raise ConfigurationError(
            f"cannot listen on {args.host}:{args.port}; choose another --port (0: a free one)",
            field="--port",
        ) from exc
    if not server.started:
        raise ConfigurationError(
            f"cannot listen on {args.host}:{args.port}; choose another --port (0: a free one)",
            field="--port",
        )
    return 0
