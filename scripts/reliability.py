#!/usr/bin/env python3
"""Run the fault matrix (tests/reliability) and rewrite its table in docs/reliability.md.

    python3 scripts/dev.py reliability            # in the Airflow environment
    .venv-airflow/bin/python scripts/reliability.py [extra pytest args]

Each scenario's expected outcome, measured outcome (records, token requests, seconds, or
the error and how long it took) and pytest result replace the lines between the
``<!-- matrix:start -->`` and ``<!-- matrix:end -->`` markers. Exits with pytest's code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reliability.md"
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip() or "-"


def render(rows: list[dict[str, str]], *, seconds: float, command: str) -> str:
    """The Markdown block that goes between the markers."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpus = os.cpu_count()
    lines = [
        START,
        f"Last run: {when}, `{command}`, {len(rows)} scenarios in {seconds:.0f} s "
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


def main() -> int:
    command = "python3 scripts/dev.py reliability"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "matrix.json"
        env = dict(os.environ, VENDORGATE_RELIABILITY_JSON=str(report))
        started = dt.datetime.now(dt.UTC)
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/reliability",
                "-q",
                "-p",
                "no:randomly",
                *sys.argv[1:],
            ],
            cwd=ROOT,
            env=env,
        )
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        if not report.exists():
            print("no scenario ran: docs/reliability.md left as it was", file=sys.stderr)
            return code or 1
        rows = json.loads(report.read_text())
    text = PAGE.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    PAGE.write_text(head + render(rows, seconds=seconds, command=command) + tail)
    print(f"rewrote the table in {PAGE.relative_to(ROOT)} ({len(rows)} scenarios)")
    return code


if __name__ == "__main__":
    sys.exit(main())
