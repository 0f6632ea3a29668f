"""The runnable Python examples in docs/secrets.md, docs/signing.md, docs/testing/openbao.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"
# Examples that need a real Vault at VAULT_ADDR or a pytest fixture are not run.
_NEEDS_OUTSIDE = ("vault.example.com", "from_env()", "def test_")


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in ("secrets.md", "signing.md", "testing/openbao.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S)):
            if not any(marker in block for marker in _NEEDS_OUTSIDE):
                found.append((f"{page}#{i}", block))
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("where", "code"), _examples(), ids=[w for w, _ in _examples()])
def test_docs_example_runs(where: str, code: str) -> None:
    """Each self-contained docs example runs and prints what the page says it prints."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    # "print(x)   # value ..." comments: the first word is the printed value.
    for comment in re.findall(r"print\(.*\)\s+# (.+)", code):
        assert comment.split()[0].rstrip(":") in result.stdout.split(), (where, comment)
