#!/usr/bin/env python3
"""One entry point for everything a developer or CI does with this repository.

Needs only Python >= 3.10 on the machine: it installs uv into ``.tools/`` and builds the
two locked environments itself (Airflow and Prefect cannot share one: their FastAPI pins
conflict, so ``uv.lock`` holds two forks).

    python3 scripts/dev.py demo     # the main job: OpenBao + vendor sandbox demo pipeline,
                                    # then 24 Prefect task runs sharing one token
    python3 scripts/dev.py test     # every test, in both environments
    python3 scripts/dev.py lint     # ruff check, ruff format --check, mypy, docs build
    python3 scripts/dev.py bench    # benchmarks (add --quick for a short run)
    python3 scripts/dev.py reliability  # fault matrix; rewrites the table in docs/reliability.md
    python3 scripts/dev.py soak     # 10 min, 8 worker processes, 20 s tokens, 5 % API faults
    python3 scripts/dev.py sync     # only (re)build the environments
    python3 scripts/dev.py mutate   # mutation testing of the critical modules (not in CI)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import venv
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"
COMMON_EXTRAS = ("testing", "redis", "fsspec", "http2")
ENVS = {
    # name: (virtualenv directory, extras installed into it, Python request for uv)
    # airflow-celery: the CeleryExecutor for the multi-worker deployment test
    "airflow": (ROOT / ".venv-airflow", ("airflow", "airflow-celery", *COMMON_EXTRAS), None),
    # Prefect 3.9 needs Python >= 3.11.
    "prefect": (ROOT / ".venv-prefect", ("prefect", *COMMON_EXTRAS), ">=3.11"),
    # `mutate` only: the Airflow environment plus the mutation group, kept apart so that
    # `test` (which syncs its environment exactly) never removes mutmut mid-run
    "mutation": (ROOT / ".venv-mutation", ("airflow", *COMMON_EXTRAS), None),
}
# The test directories each environment owns, and the fewest tests it must RUN (collected and
# not skipped) from each. A directory skipped whole (say Airflow fails to import), an
# environment that collects nothing, or a run that lost tests fails `test` and is named.
# Raise a minimum when you add tests; lower it only when tests are removed on purpose.
TEST_PLAN: dict[str, dict[str, int]] = {
    # Tests each environment must *run* (skips not counted) per directory: the counts of
    # 2026-11-30 less the tests that may skip (backend-specific cases, fsspec), so losing
    # one test file, not only a whole directory, fails the run. Raise them as tests are
    # added; lower one only with the commit that deletes tests.
    "airflow": {
        "tests/core": 2162,
        "tests/cli": 72,
        "tests/testing": 178,
        "tests/docs": 29,
        "tests/airflow": 66,
        "tests/scripts": 26,
        "tests/package": 16,
        "tests/reliability": 50,
    },
    # Slow real-server core tests already ran in the Airflow environment; here: fast core
    # tests (marker "not slow") and every Prefect test.
    "prefect": {"tests/core": 1668, "tests/prefect": 127},
}
TEST_MARKERS = {"airflow": None, "prefect": "not slow or prefect"}
# pytest options that narrow the selection: with any of them the minimums are not checked.
_SELECTING_OPTIONS = ("-k", "-m", "--deselect", "--lf", "--last-failed", "--sw", "--stepwise")


def _say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def _run(cmd: list[str], *, env: dict[str, str] | None = None, check: bool = True) -> int:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    if check and proc.returncode != 0:
        sys.exit(proc.returncode)
    return proc.returncode


def _uv() -> str:
    uv = TOOLS / "bin" / "uv"
    if not uv.exists():
        _say(f"installing uv {UV_VERSION} into {TOOLS.relative_to(ROOT)}/")
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
        _run([str(TOOLS / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"])
    return str(uv)


def sync(name: str, groups: tuple[str, ...] = ()) -> Path:
    """Create or update one locked environment; return its bin directory."""
    path, extras, python = ENVS[name]
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(path))
    cmd = [_uv(), "sync", "--frozen", "--quiet"]
    if python:
        cmd += ["--python", python]
    for extra in extras:
        cmd += ["--extra", extra]
    for group in groups:
        cmd += ["--group", group]
    _say(f"syncing the {name} environment ({path.name})")
    _run(cmd, env=env)
    return path / "bin"


@dataclass
class DirCount:
    """Outcomes of the tests of one directory in one run (from pytest's JUnit XML)."""

    ran: int = 0
    skipped: int = 0
    skip_reasons: list[str] = field(default_factory=list)


def count_junit(xml_path: Path, directories: list[str]) -> dict[str, DirCount]:
    """Tests run and skipped per owned directory, read from a ``--junitxml`` report."""
    counts = {d: DirCount() for d in directories}
    if not xml_path.exists():
        return counts
    # pytest's own report of this run, written to our temporary directory: trusted input
    for case in ET.parse(xml_path).getroot().iter("testcase"):  # noqa: S314
        # A collection-time skip (a conftest's importorskip) has no classname, its path as name.
        module = (case.get("classname") or case.get("name") or "").replace(".", "/")
        owner = next((d for d in directories if f"{module}/".startswith(f"{d}/")), None)
        if owner is None:
            continue
        skipped = case.find("skipped")
        if skipped is None:
            counts[owner].ran += 1
        else:
            counts[owner].skipped += 1
            reason = skipped.get("message", "")
            if "Skipped: " in (skipped.text or ""):
                reason = (skipped.text or "").split("Skipped: ", 1)[1].rstrip("')\"")
            if reason and reason not in counts[owner].skip_reasons:
                counts[owner].skip_reasons.append(reason)
    return counts


def shortfalls(env_name: str, counts: dict[str, DirCount], minimums: dict[str, int]) -> list[str]:
    """One line per owned directory that ran fewer tests than its minimum."""
    lines = []
    for directory, minimum in minimums.items():
        got = counts.get(directory, DirCount())
        if got.ran < minimum:
            why = f"; skipped {got.skipped}" if got.skipped else ""
            if got.skip_reasons:
                why += f" ({'; '.join(got.skip_reasons[:3])})"
            lines.append(
                f"{env_name} environment ran {got.ran} tests in {directory}, "
                f"fewer than the {minimum} it owns{why}"
            )
    return lines


def unowned_test_directories() -> list[str]:
    """Directories under tests/ holding test modules that no environment runs."""
    owned = {d for plan in TEST_PLAN.values() for d in plan}
    found = {
        "/".join(p.parent.relative_to(ROOT).parts[:2]) for p in (ROOT / "tests").rglob("test_*.py")
    }
    return sorted(found - owned)


def _is_path(arg: str) -> bool:
    return not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists()


def _pytest(name: str, extra: list[str]) -> tuple[int, list[str]]:
    """Run one environment's tests; return pytest's exit code and its shortfalls."""
    bin_dir = sync(name)
    env = dict(os.environ, VENDORGATE_TEST_ENV=name)
    env.pop("VIRTUAL_ENV", None)
    minimums = TEST_PLAN[name]
    directories = [d for d in minimums if (ROOT / d).exists()]
    paths = [a for a in extra if _is_path(a)]
    options = [a for a in extra if not _is_path(a)]
    narrowed = bool(paths) or any(a.startswith(_SELECTING_OPTIONS) for a in options)
    args = [*(paths or directories), *options]
    marker = TEST_MARKERS[name]
    if marker and "-m" not in options:
        args += ["-m", marker]
    with tempfile.TemporaryDirectory(prefix="vendorgate-junit-") as tmp:
        report = Path(tmp) / f"{name}.xml"
        _say(f"pytest in the {name} environment: {' '.join(args)}")
        code = _run(
            [str(bin_dir / "python"), "-m", "pytest", *args, f"--junitxml={report}"],
            env=env,
            check=False,
        )
        if narrowed:
            _say(f"{name}: selection narrowed by arguments, per-directory minimums not checked")
            return code, []
        missing = [
            f"{name} environment owns {d}, which is missing"
            for d in minimums
            if d not in directories
        ]
        return code, missing + shortfalls(name, count_junit(report, directories), minimums)


def cmd_test(extra: list[str]) -> int:
    """All tests with Airflow; fast core tests and Prefect tests with Prefect.

    Fails when pytest fails (exit 5, "no tests collected", included) or when an environment
    runs fewer tests from one of its directories than ``TEST_PLAN`` says it owns.
    """
    parser = argparse.ArgumentParser(prog="dev.py test", add_help=False)
    parser.add_argument("--env", choices=sorted(TEST_PLAN), help="run one environment only")
    known, extra = parser.parse_known_args(extra)
    codes: dict[str, int] = {}
    problems = [
        f"test directory {d} is owned by no environment (add it to TEST_PLAN in scripts/dev.py)"
        for d in unowned_test_directories()
    ]
    for name in TEST_PLAN:
        if known.env and name != known.env:
            continue
        codes[name], short = _pytest(name, extra)
        problems += short
    for line in problems:
        _say(f"FAILED: {line}")
    if any(codes.values()) or problems:
        exits = ", ".join(f"{n} env exit {c}" for n, c in codes.items())
        _say(f"FAILED ({exits}; {len(problems)} directories short of their minimum)")
        return 1
    _say(f"all tests passed in {' and '.join(codes)} environment(s)")
    return 0


def cmd_lint(_: list[str]) -> int:
    bin_dir = sync("airflow")
    prefect_bin = sync("prefect")
    steps = [
        [str(bin_dir / "ruff"), "check", "src", "tests", "benchmarks", "scripts"],
        [str(bin_dir / "ruff"), "format", "--check", "src", "tests", "benchmarks", "scripts"],
        [str(bin_dir / "mypy"), "src/vendorgate"],
        # the Prefect collection against the installed prefect (Python >= 3.11)
        [str(prefect_bin / "mypy"), "--python-version", "3.11", "src/vendorgate/prefect"],
        # benchmarks and scripts (bench_prefect.py needs prefect: the Prefect environment)
        [str(bin_dir / "mypy"), "scripts", "benchmarks", "--exclude", "bench_prefect"],
        [str(prefect_bin / "mypy"), "--python-version", "3.11", "benchmarks/bench_prefect.py"],
        [str(bin_dir / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", str(ROOT / "site")],
    ]
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    failed = 0
    for step in steps:
        _say(" ".join(Path(step[0]).name if i == 0 else s for i, s in enumerate(step)))
        failed |= _run(step, env=env, check=False) != 0
    return 1 if failed else 0


def cmd_demo(extra: list[str]) -> int:
    bin_dir = sync("airflow")
    code = _run([str(bin_dir / "vendorgate"), "demo", *extra], check=False)
    return code or demo_prefect()


def demo_prefect() -> int:
    """The concurrent Prefect flow end to end on Prefect's embedded default server."""
    import shutil
    import tempfile

    bin_dir = sync("prefect")
    home = Path(tempfile.mkdtemp(prefix="vendorgate-prefect-demo-"))
    out = home / "output"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VIRTUAL_ENV"))}
    # its own PREFECT_HOME: the embedded server's database is not shared with anything
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    _say("Prefect: 24 concurrent task runs, one VendorApi block, tokens in a block document")
    flow = ROOT / "flows_examples" / "vendorgate_concurrent_flow.py"
    try:
        code = _run([str(bin_dir / "python"), str(flow), str(out)], env=env, check=False)
        if code == 0:
            files = sorted(out.glob("*.jsonl"))
            _say(f"Prefect output: {len(files)} files in {out} (kept; delete when done)")
        return code
    finally:
        shutil.rmtree(home / ".prefect", ignore_errors=True)
        for db in home.glob("prefect.db*"):
            db.unlink()


def cmd_bench(extra: list[str]) -> int:
    bin_dir = sync("airflow")
    return _run([str(bin_dir / "python"), "benchmarks/run.py", *extra], check=False)


MUTATION_DIR = ROOT / ".mutation"
# mutmut exit codes (mutmut/__main__.py status_by_exit_code), grouped for the score
_KILLED_CODES = {1, 3, 36, -24, 24, 152, 255, -11, -9, 37}  # failed, timed out, crashed
_NO_TESTS_CODES = {5, 33}


def mutation_summary(work: Path) -> tuple[dict[str, int], list[str]]:
    """Counts per outcome and the names of surviving mutants, from mutmut's .meta files."""
    import json

    counts = {
        "killed": 0,
        "survived": 0,
        "no tests": 0,
        "suspicious": 0,
        "not checked": 0,
        "skipped": 0,
    }
    survivors: list[str] = []
    for meta in sorted((work / "mutants").rglob("*.meta")):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            if code is None:
                counts["not checked"] += 1
            elif code == 0:
                counts["survived"] += 1
                survivors.append(name)
            elif code in _NO_TESTS_CODES:
                counts["no tests"] += 1
                survivors.append(f"{name} (no test covers it)")
            elif code == 34:
                counts["skipped"] += 1
            elif code in _KILLED_CODES:
                counts["killed"] += 1
            else:
                counts["suspicious"] += 1
    return counts, survivors


def _set_toml_list(text: str, key: str, values: list[str]) -> str:
    import re

    rendered = "[\n" + "".join(f'  "{v}",\n' for v in values) + "]"
    return re.sub(rf"(?ms)^{key} = \[.*?^\]", f"{key} = {rendered}", text, count=1)


def cmd_mutate(extra: list[str]) -> int:
    """Mutation testing (mutmut) of the critical modules, in a scratch copy; not run in CI.

    The modules and the tests that must kill their mutants are ``[tool.mutmut]`` in
    pyproject.toml; ``--only PATH`` and ``--tests PATH`` (repeatable) narrow them for one
    run. The copy lives in ``.mutation/`` (so the working tree can change meanwhile), or
    in ``--dir PATH`` (so that two runs can go side by side); runs at nice 15.
    ``--summary`` only reports the last run. Other arguments go to ``mutmut run`` (e.g.
    ``--max-children 2``, or mutant names such as ``'vendorgate.http._output.x*acquire*'``).
    """
    import shutil

    parser = argparse.ArgumentParser(prog="dev.py mutate")
    parser.add_argument("--only", action="append", default=[], help="module to mutate")
    parser.add_argument("--tests", action="append", default=[], help="tests to run")
    parser.add_argument("--summary", action="store_true", help="report the last run only")
    parser.add_argument(
        "--dir", default=str(MUTATION_DIR), help="scratch directory (another: side by side)"
    )
    known, mutmut_args = parser.parse_known_args(extra)
    work = Path(known.dir).resolve()
    code = 0
    if not known.summary:
        bin_dir = sync("mutation", groups=("mutation",))
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in ("src", "tests"):
            shutil.copytree(ROOT / name, work / name, ignore=ignore)
        config = (ROOT / "pyproject.toml").read_text()
        if known.only:
            config = _set_toml_list(config, "only_mutate", known.only)
        if known.tests:
            config = _set_toml_list(config, "pytest_add_cli_args_test_selection", known.tests)
        (work / "pyproject.toml").write_text(config)
        env = dict(os.environ, VENDORGATE_TEST_ENV="airflow")
        env.pop("VIRTUAL_ENV", None)
        _say(f"mutmut run in {work}/ (nice 15)")
        code = subprocess.run(
            [str(bin_dir / "mutmut"), "run", *mutmut_args],
            cwd=work,
            env=env,
            check=False,
            preexec_fn=lambda: os.nice(15),  # CPU-heavy: keep the machine usable
        ).returncode
    counts, survivors = mutation_summary(work)
    checked = counts["killed"] + counts["survived"] + counts["no tests"]
    score = 100.0 * counts["killed"] / checked if checked else 0.0
    for name in survivors:
        print(f"  survived: {name}")
    _say(", ".join(f"{n} {k}" for k, n in counts.items()) + f"; score {score:.1f} %")
    return code


def cmd_reliability(extra: list[str]) -> int:
    """The fault matrix in both environments (scripts/reliability.py runs each)."""
    bin_dir = sync("airflow")
    sync("prefect")
    return _run([str(bin_dir / "python"), "scripts/reliability.py", *extra], check=False)


def cmd_soak(extra: list[str]) -> int:
    bin_dir = sync("airflow")
    return _run([str(bin_dir / "python"), "scripts/soak.py", *extra], check=False)


def cmd_sync(_: list[str]) -> int:
    for name in ("airflow", "prefect"):
        sync(name)
    return 0


COMMANDS = {
    "test": cmd_test,
    "lint": cmd_lint,
    "demo": cmd_demo,
    "bench": cmd_bench,
    "reliability": cmd_reliability,
    "soak": cmd_soak,
    "sync": cmd_sync,
    "mutate": cmd_mutate,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=sorted(COMMANDS))
    args, extra = parser.parse_known_args()
    return COMMANDS[args.command](extra)


if __name__ == "__main__":
    sys.exit(main())
