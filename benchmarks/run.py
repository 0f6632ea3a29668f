"""Run every benchmark in this directory, one after the other, in one command.

    python3 scripts/dev.py bench            # full run
    python3 scripts/dev.py bench --quick    # short run (smaller sizes, shorter durations)
    python3 scripts/dev.py bench --only cache,client

Each ``bench_*.py`` script measures its own baseline in the same run and prints figures
and ratios; this runner only sequences them (they compete for the same two cores, so
they never run concurrently) and reports which ones failed to run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument(
        "--only", default="", help="comma-separated benchmark names (e.g. cache,client)"
    )
    args = parser.parse_args()
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    scripts = sorted(HERE.glob("bench_*.py"))
    if wanted:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.monotonic()
        cmd = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        code = subprocess.run(cmd, check=False).returncode
        print(f"--- {script.stem}: exit {code} in {time.monotonic() - start:.1f} s", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that failed to run or missed a target: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
