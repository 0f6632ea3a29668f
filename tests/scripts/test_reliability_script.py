"""scripts/reliability.py: the rows of every environment end up in one table."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]

_ROW_TEST = """
import pytest

@pytest.mark.scenario("{name}", expect="{expect}")
def test_row(request):
    from fault_matrix import record_measured

    record_measured(request.node.nodeid, "{measured}")
    {body}
"""


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/reliability.py on a tiny project: two 'environments' (this Python), each
    running one scenario through the real row recorder (tests/fault_matrix.py)."""
    tests = tmp_path / "tests"
    for env_dir, name, measured, body in (
        ("one", "row of the first environment", "success: 3 records", "pass"),
        ("two", "row of the second environment", "Failed: ServerError", "assert False"),
    ):
        (tests / env_dir).mkdir(parents=True)
        (tests / env_dir / f"test_{env_dir}_row.py").write_text(
            _ROW_TEST.format(name=name, expect="as stated", measured=measured, body=body)
        )
    shutil.copy(ROOT / "tests" / "fault_matrix.py", tests / "fault_matrix.py")
    (tests / "conftest.py").write_text('pytest_plugins = ("fault_matrix",)\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    page = tmp_path / "reliability.md"
    page.write_text("# Reliability\n\n<!-- matrix:start -->\nold\n<!-- matrix:end -->\n\ntail\n")

    spec = importlib.util.spec_from_file_location(
        "vendorgate_reliability_script", ROOT / "scripts" / "reliability.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    python = Path(sys.executable)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "PAGE", page)
    monkeypatch.setattr(
        module, "RUNS", (("one", python, ["tests/one"]), ("two", python, ["tests/two"]))
    )
    monkeypatch.setattr(sys, "argv", ["reliability.py"])
    return module


def test_rows_of_both_environments_are_merged_into_one_table(script: ModuleType) -> None:
    """Each environment's rows (and results) land in the page, in order; a failed row
    makes the command fail, and the text around the markers is kept."""
    code = script.main()

    text = script.PAGE.read_text()
    assert code == 1  # the second environment's row failed
    assert text.startswith("# Reliability\n\n<!-- matrix:start -->\nLast run:")
    assert text.endswith("<!-- matrix:end -->\n\ntail\n")
    assert "2 scenarios (1 in the one environment, 1 in the two environment)" in text
    first = "| row of the first environment | as stated | success: 3 records | passed |"
    second = "| row of the second environment | as stated | Failed: ServerError | failed |"
    assert first in text
    assert second in text
    assert text.index(first) < text.index(second)
    assert "\nold\n" not in text
