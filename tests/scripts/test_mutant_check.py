"""scripts/mutant_check.py: a mutmut survivor's diff applied to the current source."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutant_check.py"

SOURCE = """\
class Cache:
    def get(self, key):
        entry = self.memory.get(key)
        if entry is not None and now < entry.refresh_at:
            return entry.token
        return None

    def aget(self, key):
        entry = self.memory.get(key)
        if entry is not None and now < entry.refresh_at:
            return entry.token
        return None


def helper(x):
    return x * 2
"""

# mutmut's own form: relative to the function, dedented
DIFF = """# vendorgate.cache.mod.xǁCacheǁaget__mutmut_7: survived
--- src/vendorgate/cache/mod.py
+++ src/vendorgate/cache/mod.py
@@ -1,5 +1,5 @@
 def aget(self, key):
     entry = self.memory.get(key)
-    if entry is not None and now < entry.refresh_at:
+    if entry is not None and now <= entry.refresh_at:
         return entry.token
"""


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendorgate_mutant_check", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_diff_is_applied_in_its_own_function_only(check: ModuleType) -> None:
    """The same lines in another method stay as they are."""
    out = check.mutated(SOURCE, "vendorgate.cache.mod.xǁCacheǁaget__mutmut_7", DIFF)
    assert out is not None
    changed = [(a, b) for a, b in zip(SOURCE.split("\n"), out.split("\n"), strict=True) if a != b]
    assert changed == [
        (
            "        if entry is not None and now < entry.refresh_at:",
            "        if entry is not None and now <= entry.refresh_at:",
        )
    ]
    assert out.split("\n").index(changed[0][1]) == 9  # in aget, not in get


def test_names_of_methods_and_functions(check: ModuleType) -> None:
    assert check.qualname_of("a.b.xǁCacheǁaget__mutmut_7") == ["Cache", "aget"]
    assert check.qualname_of("a.b.x_helper__mutmut_12") == ["helper"]


def test_a_diff_that_no_longer_fits_is_not_applied(check: ModuleType) -> None:
    stale = DIFF.replace("now < entry.refresh_at", "now < entry.usable_until")
    assert check.mutated(SOURCE, "vendorgate.cache.mod.xǁCacheǁaget__mutmut_7", stale) is None
    assert check.mutated(SOURCE, "vendorgate.cache.mod.xǁCacheǁgone__mutmut_1", DIFF) is None


def test_it_refuses_to_rewrite_the_main_checkout() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--run-dir", ".", "--source", "x.py", "--tests", "t"],
        cwd=SCRIPT.parents[1],
        capture_output=True,
        text=True,
        input="",
        check=False,
    )
    assert proc.returncode == 2
    assert "run it in a scratch worktree" in proc.stderr
