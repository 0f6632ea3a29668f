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
    python3 scripts/dev.py sync     # only (re)build the environments
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"
COMMON_EXTRAS = ("testing", "redis", "fsspec", "http2")
ENVS = {
    # name: (virtualenv directory, extras installed into it, Python request for uv)
    "airflow": (ROOT / ".venv-airflow", ("airflow", *COMMON_EXTRAS), None),
    # Prefect 3.9 needs Python >= 3.11 (the project itself supports 3.10).
    "prefect": (ROOT / ".venv-prefect", ("prefect", *COMMON_EXTRAS), ">=3.11"),
}
PYTEST_NO_TESTS_COLLECTED = 5


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


def sync(name: str) -> Path:
    """Create or update one locked environment; return its bin directory."""
    path, extras, python = ENVS[name]
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(path))
    cmd = [_uv(), "sync", "--frozen", "--quiet"]
    if python:
        cmd += ["--python", python]
    for extra in extras:
        cmd += ["--extra", extra]
    _say(f"syncing the {name} environment ({path.name})")
    _run(cmd, env=env)
    return path / "bin"


def _pytest(name: str, args: list[str]) -> int:
    bin_dir = sync(name)
    env = dict(os.environ, VENDORGATE_TEST_ENV=name)
    env.pop("VIRTUAL_ENV", None)
    _say(f"pytest in the {name} environment: {' '.join(args)}")
    code = _run([str(bin_dir / "python"), "-m", "pytest", *args], env=env, check=False)
    if code == PYTEST_NO_TESTS_COLLECTED:
        _say(f"no tests collected in the {name} environment")
        return 0
    return code


def cmd_test(extra: list[str]) -> int:
    """All tests with Airflow; core unit tests and Prefect tests with Prefect."""
    airflow = _pytest("airflow", ["--ignore=tests/prefect", *extra])
    prefect_paths = (
        ["tests/core", "tests/prefect"] if (ROOT / "tests/prefect").exists() else ["tests/core"]
    )
    # Slow real-server core tests already ran above; here: fast core tests + every Prefect test.
    prefect = _pytest("prefect", [*prefect_paths, "-m", "not slow or prefect", *extra])
    if airflow or prefect:
        _say(f"FAILED (airflow env exit {airflow}, prefect env exit {prefect})")
        return 1
    _say("all tests passed in both environments")
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


def cmd_sync(_: list[str]) -> int:
    for name in ENVS:
        sync(name)
    return 0


COMMANDS = {
    "test": cmd_test,
    "lint": cmd_lint,
    "demo": cmd_demo,
    "bench": cmd_bench,
    "sync": cmd_sync,
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
