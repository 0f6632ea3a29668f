"""Every Python example in the docs runs as written and prints what the page says.

Each ```python block of a page runs in order in one namespace per page, so a page can
build on its earlier blocks. A block right after an HTML comment ``<!-- skip-test -->``
is not run (used for snippets that need a real vendor, a production Vault, Airflow or
Prefect). A line ``print(...)  # value ...`` promises output: the comment is one whole
line the block printed, where ``...`` stands for any text (values that differ per run) and
`` -- `` starts an explanation that is not part of the output.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_FENCE = re.compile(
    r"(?P<skip><!--\s*skip-test\s*-->\s*\n)?^```python[^\n]*\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)


_PRINT_COMMENT = re.compile(r"print\(.*\)[ \t]+# (.+)")


def _promise(comment: str) -> re.Pattern[str]:
    """The printed line a ``# ...`` comment promises: exact, ``...`` matching anything."""
    output = comment.split(" -- ", 1)[0]
    parts = [re.escape(" ".join(p.split())) for p in output.strip().split("...")]
    return re.compile(r"\s*" + ".*?".join(parts) + r"\s*")


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "```python" in p.read_text())


def _blocks(page: Path) -> list[str]:
    return [m["code"] for m in _FENCE.finditer(page.read_text()) if not m["skip"]]


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user can paste the page's examples and they work."""
    monkeypatch.chdir(tmp_path)
    # the examples' defaults (an fsspec URL output's staging directory) stay in tmp_path
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(_blocks(page)):
        where = f"{page.relative_to(DOCS)} block {i}"
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, where, "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the failure is the report
            raise AssertionError(f"{where} failed: {exc!r}") from exc
        lines = [" ".join(line.split()) for line in printed.getvalue().splitlines()]
        for comment in _PRINT_COMMENT.findall(code):
            promise = _promise(comment)
            assert any(promise.fullmatch(line) for line in lines), (
                f"{where}: promised {comment.strip()!r}, printed {lines!r}"
            )
