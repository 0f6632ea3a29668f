"""The Prefect pages' examples run as written, against Prefect's test harness.

The general docs test runs in the Airflow environment (no prefect) and skips these
blocks (``<!-- skip-test -->``); blocks also marked ``<!-- prefect-test -->`` run here,
in order, one namespace per page, with the same ``print(...)  # value`` promise.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "prefect"
_FENCE = re.compile(
    r"^<!--\s*prefect-test\s*-->\s*\n<!--\s*skip-test\s*-->\s*\n```python[^\n]*\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)
_PRINT_COMMENT = re.compile(r"print\(.*\)[ \t]+# (.+)")

pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if _FENCE.search(p.read_text()))


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_prefect_page_examples_run(
    prefect_harness: None, page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user can paste the Prefect page's examples and they work."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_prefect_{page.stem}"}
    for i, match in enumerate(_FENCE.finditer(page.read_text())):
        code = match["code"]
        where = f"prefect/{page.name} block {i}"
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, where, "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{where} failed: {exc!r}") from exc
        for comment in _PRINT_COMMENT.findall(code):
            expected = comment.split()[0].rstrip(":").split("(")[0]
            assert expected in printed.getvalue(), f"{where}: printed no {expected!r}"
