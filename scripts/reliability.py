#!/usr/bin/env python3
"""Run the fault matrix in both environments and rewrite its table in docs/reliability.md.

    python3 scripts/dev.py reliability            # syncs both environments first
    python3 scripts/reliability.py [extra pytest args]

The Airflow environment runs tests/reliability (the core rows, and the Airflow operator
rows); the Prefect environment runs the rows marked ``reliability`` in tests/prefect
(the Prefect task rows) against a ``prefect server start`` of its own (a full server,
which revokes the leases of dead concurrency-slot holders; ``VENDORGATE_PREFECT_TEST_API``
points them at another). Each run writes its rows as JSON (``VENDORGATE_RELIABILITY_JSON``,
see tests/fault_matrix.py); the rows are merged, in that order, into one table: each
scenario's expected outcome, measured outcome (records, token requests, seconds, or the
error and how long it took) and pytest result replace the lines between the
``<!-- matrix:start -->`` and ``<!-- matrix:end -->`` markers. Extra arguments go to both
pytest runs. Exits non-zero when either run fails (selecting no test in one is fine).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reliability.md"
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"
#: (environment, its Python, what pytest runs there), in table order.
RUNS = (
    ("airflow", ROOT / ".venv-airflow" / "bin" / "python", ["tests/reliability"]),
    ("prefect", ROOT / ".venv-prefect" / "bin" / "python", ["tests/prefect", "-m", "reliability"]),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip() or "-"


def render(
    rows: list[dict[str, str]],
    *,
    seconds: float,
    command: str,
    per_env: dict[str, int] | None = None,
) -> str:
    """The Markdown block that goes between the markers."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpus = os.cpu_count()
    envs = ""
    if per_env:
        envs = " (" + ", ".join(f"{n} in the {e} environment" for e, n in per_env.items()) + ")"
    lines = [
        START,
        f"Last run: {when}, `{command}`, {len(rows)} scenarios{envs} in {seconds:.0f} s "
        f"(Python {platform.python_version()}, {cpus} CPUs).",
        "",
        "| scenario | expected | measured | result |",
        "|---|---|---|---|",
    ]
    for row in rows:
        result = row["result"]
        if row.get("reason"):
            result += f": {row['reason']}"
        lines.append(
            f"| {_cell(row['scenario'])} | {_cell(row['expect'])} | "
            f"{_cell(row['measured'])} | {_cell(result)} |"
        )
    lines.append(END)
    return "\n".join(lines)


@contextlib.contextmanager
def prefect_server(python: Path) -> Iterator[dict[str, str]]:
    """A ``prefect server start`` of its own (SQLite in a temporary PREFECT_HOME) for the
    Prefect rows; yields the environment that points the tests at it.

    A full server, not Prefect's ephemeral test server: it revokes the leases of dead
    concurrency-slot holders, as a production server does. ``VENDORGATE_PREFECT_TEST_API``
    set by the caller wins. Stopped by its process group, also on failure.
    """
    if os.environ.get("VENDORGATE_PREFECT_TEST_API"):
        yield {}
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    home = Path(tempfile.mkdtemp(prefix="vendorgate-reliability-prefect-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VIRTUAL_ENV"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_UI_ENABLED="false",
    )
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(python.parent / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_default_signals,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 600
        while not _healthy(api):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}")
            time.sleep(1)
        print(f"==> Prefect server for the Prefect rows: {api}", flush=True)
        yield {"VENDORGATE_PREFECT_TEST_API": api}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def _default_signals() -> None:  # in the child: a shell's ignored SIGINT must not stick
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def _healthy(api: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api}/health", timeout=5) as reply:  # noqa: S310
            return bool(reply.status == 200)
    except OSError:
        return False


def run_matrix(
    env_name: str, python: Path, args: list[str], report: Path
) -> tuple[int, list[dict[str, str]]]:
    """Run one environment's rows; return pytest's exit code and the rows it recorded."""
    if env_name == "prefect":
        with prefect_server(python) as extra:
            return _run_pytest(env_name, python, args, report, extra)
    return _run_pytest(env_name, python, args, report, {})


def _run_pytest(
    env_name: str, python: Path, args: list[str], report: Path, extra: dict[str, str]
) -> tuple[int, list[dict[str, str]]]:
    env = dict(os.environ, VENDORGATE_RELIABILITY_JSON=str(report), VENDORGATE_TEST_ENV=env_name)
    env.update(extra)
    env.pop("VIRTUAL_ENV", None)
    print(f"==> fault matrix in the {env_name} environment: {' '.join(args)}", flush=True)
    code = subprocess.call(
        [str(python), "-m", "pytest", *args, "-q", "-p", "no:randomly", *sys.argv[1:]],
        cwd=ROOT,
        env=env,
    )
    if not report.exists():
        print(f"{env_name}: no scenario ran", file=sys.stderr)
        return code, []
    rows: list[dict[str, str]] = json.loads(report.read_text())
    return code, rows


def main() -> int:
    command = "python3 scripts/dev.py reliability"
    rows: list[dict[str, str]] = []
    codes: dict[str, int] = {}
    per_env: dict[str, int] = {}
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        for env_name, python, args in RUNS:
            report = Path(tmp) / f"matrix-{env_name}.json"
            codes[env_name], env_rows = run_matrix(env_name, python, args, report)
            rows += env_rows
            per_env[env_name] = len(env_rows)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    if not rows:
        print("no scenario ran: docs/reliability.md left as it was", file=sys.stderr)
        return 1
    text = PAGE.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    PAGE.write_text(head + render(rows, seconds=seconds, command=command, per_env=per_env) + tail)
    print(f"rewrote the table in {PAGE.relative_to(ROOT)} ({len(rows)} scenarios)")
    # exit 5: nothing selected in that environment (``-k`` naming rows of the other one)
    failed = {name: code for name, code in codes.items() if code not in (0, 5)}
    if failed:
        print(f"fault matrix failed: {failed} (pytest exit codes)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
