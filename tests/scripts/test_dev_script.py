"""scripts/dev.py's test command: CI must not pass by skipping or collecting nothing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

DEV_PY = Path(__file__).resolve().parents[2] / "scripts" / "dev.py"


@pytest.fixture(scope="module")
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendorgate_dev_script", DEV_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _project(tmp_path: Path, *, framework_importable: bool) -> Path:
    """A tiny project: tests/core (2 tests) and tests/fw, whose conftest imports a framework."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    core = tmp_path / "tests" / "core"
    fw = tmp_path / "tests" / "fw"
    core.mkdir(parents=True)
    fw.mkdir()
    (core / "test_core.py").write_text("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    module = "json" if framework_importable else "no_such_framework_for_this_test"
    (fw / "conftest.py").write_text(
        f"import pytest\n\npytest.importorskip({module!r}, reason='framework broken')\n"
    )
    (fw / "test_fw.py").write_text("def test_dag():\n    pass\n")
    return tmp_path


def _junit(project: Path) -> Path:
    report = project / "report.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests",
            f"--junitxml={report}",
        ],
        cwd=project,
        capture_output=True,
        check=False,
    )
    return report


def test_directory_skipped_whole_fails_and_is_named(dev: ModuleType, tmp_path: Path) -> None:
    """A framework that fails to import makes the run fail, naming the env and its directory."""
    project = _project(tmp_path, framework_importable=False)
    counts = dev.count_junit(_junit(project), ["tests/core", "tests/fw"])
    lines = dev.shortfalls("airflow", counts, {"tests/core": 2, "tests/fw": 1})
    assert counts["tests/core"].ran == 2
    assert len(lines) == 1
    assert "airflow environment ran 0 tests in tests/fw, fewer than the 1 it owns" in lines[0]
    assert "framework broken" in lines[0]


def test_full_run_has_no_shortfall(dev: ModuleType, tmp_path: Path) -> None:
    """When every owned directory runs its tests, nothing is reported."""
    project = _project(tmp_path, framework_importable=True)
    counts = dev.count_junit(_junit(project), ["tests/core", "tests/fw"])
    assert dev.shortfalls("prefect", counts, {"tests/core": 2, "tests/fw": 1}) == []


def test_no_report_counts_as_nothing_run(dev: ModuleType, tmp_path: Path) -> None:
    """A run that produced no report (crashed, or collected nothing) falls short everywhere."""
    counts = dev.count_junit(tmp_path / "absent.xml", ["tests/core"])
    assert dev.shortfalls("prefect", counts, {"tests/core": 1}) == [
        "prefect environment ran 0 tests in tests/core, fewer than the 1 it owns"
    ]


def test_every_test_directory_is_owned_by_an_environment(dev: ModuleType) -> None:
    """A new test directory cannot be left out of both environments' runs."""
    assert dev.unowned_test_directories() == []


def test_test_module_basenames_are_unique() -> None:
    """pytest imports test files by basename (rootdir mode): two files with one name in two
    directories make collection fail in CI, so every module under tests/ has its own name."""
    tests = DEV_PY.parents[1] / "tests"
    seen: dict[str, list[str]] = {}
    for path in tests.rglob("*.py"):
        if path.name in ("conftest.py", "__init__.py") or "__pycache__" in path.parts:
            continue
        seen.setdefault(path.name, []).append(str(path.relative_to(tests)))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}
