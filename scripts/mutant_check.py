"""Check a mutation run's survivors against the tests as they are now, one mutant at a time.

A mutmut run takes an hour on this machine; the tests written after it are checked against
its survivors here instead. Each mutant's diff (``mutmut show NAME`` in the run's scratch
directory) is applied inside its function in the *current* source, the given tests run
(``-x``), and the source is restored. Run it in a scratch worktree, never in a checkout
with work in progress: the source file is rewritten while a test runs.

    git worktree add /tmp/check HEAD
    cd /tmp/check
    python3 /path/to/main/scripts/mutant_check.py --run-dir /path/to/main/.mutation \\
        --source src/vendorgate/cache/_cache.py --tests tests/core/cache/test_x.py \\
        --full tests/core/cache < survivors.txt

``survivors.txt`` holds mutant names, one a line (``mutmut results`` in the run directory).
Prints one line a mutant: KILLED (with the first failing test) or SURVIVED, or CANNOT APPLY
when the function changed so much that the diff no longer fits.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def function_lines(text: str, qualname: list[str]) -> tuple[int, int] | None:
    """The first and last line (1-based) of the function ``qualname`` in ``text``."""
    body: list[ast.stmt] = ast.parse(text).body
    for i, part in enumerate(qualname):
        for node in body:
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ):
                if i == len(qualname) - 1:
                    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                    return first, node.end_lineno or node.lineno
                body = node.body
                break
        else:
            return None
    return None


def qualname_of(mutant: str) -> list[str]:
    """``pkg.mod.xǁClassǁmeth__mutmut_3`` -> ``["Class", "meth"]``; ``x_f`` -> ``["f"]``."""
    tail = re.sub(r"__mutmut_\d+$", "", mutant.rsplit(".", 1)[-1])
    if tail.startswith("xǁ"):
        return tail[2:].split("ǁ")
    return [tail.removeprefix("x_")]


def mutated(source: str, mutant: str, diff: str) -> str | None:
    """``source`` with ``diff`` (mutmut's function-relative, dedented hunk) applied."""
    hunk = [
        line
        for line in diff.splitlines()
        if line[:1] in (" ", "-", "+") and not line.startswith(("---", "+++"))
    ]
    old = "\n".join(line[1:] for line in hunk if line[:1] in (" ", "-"))
    new = "\n".join(line[1:] for line in hunk if line[:1] in (" ", "+"))
    span = function_lines(source, qualname_of(mutant))
    if span is None or not old:
        return None
    lines = source.split("\n")
    first, last = span
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    body = "\n".join(line[indent:] for line in lines[first - 1 : last])
    if body.count(old) != 1:
        return None
    changed = [
        (" " * indent + line) if line else line for line in body.replace(old, new).split("\n")
    ]
    return "\n".join(lines[: first - 1] + changed + lines[last:])


def run_tests(python: str, tests: list[str]) -> tuple[bool, str]:
    """Run ``tests`` against ``src/`` here; ``(failed, first failing test or summary)``."""
    env = dict(os.environ, PYTHONPATH=str(Path.cwd() / "src"))
    proc = subprocess.run(
        [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    lines = proc.stdout.strip().splitlines()
    return proc.returncode != 0, (failed[0] if failed else lines[-1] if lines else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True, help="the mutation run's scratch directory")
    parser.add_argument("--source", required=True, help="the mutated module, from the repo root")
    parser.add_argument("--tests", nargs="+", required=True, help="tests tried first")
    parser.add_argument("--full", nargs="*", default=[], help="tests for mutants still alive")
    parser.add_argument("--python", default=str(ROOT / ".venv-airflow" / "bin" / "python"))
    args = parser.parse_args()
    if Path.cwd().resolve() == ROOT:
        parser.error("run it in a scratch worktree: it rewrites the source while tests run")
    mutmut = str(ROOT / ".venv-mutation" / "bin" / "mutmut")
    source_path = Path(args.source)
    original = source_path.read_text()
    try:
        for mutant in (line.strip() for line in sys.stdin):
            if not mutant:
                continue
            diff = subprocess.run(
                [mutmut, "show", mutant],
                cwd=args.run_dir,
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            text = mutated(original, mutant, diff)
            short = mutant.rsplit(".", 1)[-1]
            if text is None:
                print(f"{short}: CANNOT APPLY", flush=True)
                continue
            source_path.write_text(text)
            killed, detail = run_tests(args.python, args.tests)
            if not killed and args.full:
                killed, detail = run_tests(args.python, args.full)
            print(f"{short}: {'KILLED' if killed else 'SURVIVED'} {detail}", flush=True)
            source_path.write_text(original)
    finally:
        source_path.write_text(original)
    return 0


if __name__ == "__main__":
    sys.exit(main())
