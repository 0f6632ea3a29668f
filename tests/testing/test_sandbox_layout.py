"""The sandbox stays independent of the code it checks, one module per vendor document."""

from __future__ import annotations

import ast
from pathlib import Path

import vendorgate.testing.sandbox as sandbox_pkg

SANDBOX_DIR = Path(sandbox_pkg.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_sandbox_imports_nothing_from_dialects_or_tokens():
    """The sandbox checks the token code from outside: it never reuses dialects or tokens."""
    offenders = {
        f"{path.relative_to(SANDBOX_DIR)}: {module}"
        for path in SANDBOX_DIR.rglob("*.py")
        for module in _imported_modules(path)
        if module.startswith(("vendorgate.dialects", "vendorgate.tokens"))
    }
    assert offenders == set()


def test_one_module_per_vendor_document():
    """A reader finds each vendor's token endpoint by its file name, as with the presets."""
    modules = {p.stem for p in (SANDBOX_DIR / "_vendors").glob("*.py")}
    assert {"techwolf", "lonewolf", "tci", "oauth2", "wokelo"} <= modules
