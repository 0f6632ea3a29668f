"""The layers of the house: no module imports from a layer above its own.

The picture (docs: /work/shared/ARCHITECTURE.md), lowest first::

    leaf modules: errors, Secret, Token, retry engine, URL and validation helpers
    signing, secrets, dialects
    cache
    tokens
    http
    connection spec
    cli, testing, airflow, prefect

Every import counts: module level, inside functions and under ``TYPE_CHECKING`` (a type
that runs up the layers is a dependency that does). Modules of one layer may import each
other, but packages never import each other in a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import vendorgate

SRC = Path(vendorgate.__file__).resolve().parent

#: Layer of each top-level part of the package (``vendorgate.<part>``), lowest first.
LAYERS: dict[str, int] = {
    "_errors": 0,
    "_lazy": 0,
    "_retry": 0,
    "_secret": 0,
    "_token": 0,
    "_url": 0,
    "_mapping": 0,
    "_suggest": 0,
    "_units": 0,
    "_validate": 0,
    "events": 0,
    "dialects": 1,
    "secrets": 1,
    "signing": 1,
    "cache": 2,
    "tokens": 3,
    "http": 4,
    "connection": 5,
    "_connection": 5,
    "cli": 6,
    "testing": 6,
    "airflow": 6,
    "prefect": 6,
    "__main__": 6,
}
NAMES = {
    0: "leaf modules",
    1: "signing/secrets/dialects",
    2: "cache",
    3: "tokens",
    4: "http",
    5: "connection spec",
    6: "cli/testing/adapters",
}


def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    found: dict[str, Path] = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _part(module: str) -> str | None:
    """``vendorgate.<part>...`` -> ``part`` (``None`` for the package facade itself)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else None


def _resolve_from(module: str, node: ast.ImportFrom) -> list[str]:
    """The vendorgate modules a ``from ... import ...`` statement loads."""
    if node.level:  # relative import
        base = module.split(".")
        is_package = MODULES.get(module, Path()).name == "__init__.py"
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    if target != "vendorgate" and not target.startswith("vendorgate."):
        return []
    loaded = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in MODULES:
            loaded.append(sub)
        elif target == "vendorgate":  # a public name of the facade: where it really lives
            loaded.append(vendorgate._LAZY.get(alias.name, "vendorgate._errors"))
        else:
            loaded.append(target)
    return loaded


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def _imports(module: str, *, skip_type_checking: bool = False) -> list[tuple[int, str]]:
    """``(line, imported vendorgate module)`` for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree) if skip_type_checking else set()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "vendorgate"
            ]
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, m) for m in _resolve_from(module, node)]
    return found


def test_every_module_has_a_layer() -> None:
    """A new top-level module or package is placed in the layer picture."""
    unplaced = sorted({p for m in MODULES if (p := _part(m)) is not None and p not in LAYERS})
    assert not unplaced, f"add these to LAYERS in {__file__}: {unplaced}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m) is not None))
def test_no_import_runs_up_the_layers(module: str) -> None:
    """A module imports only from its own layer or the layers below it."""
    part = _part(module)
    if part not in LAYERS:
        pytest.skip("unplaced (see test_every_module_has_a_layer)")
    own = LAYERS[part]
    upward = []
    for line, target in _imports(module):
        target_part = _part(target)
        if target_part is None:
            upward.append(f"line {line}: imports the vendorgate facade itself")
            continue
        layer = LAYERS.get(target_part)
        if layer is not None and layer > own:
            upward.append(
                f"line {line}: {target} ({NAMES[layer]}) is above {module} ({NAMES[own]})"
            )
    assert not upward, "\n".join(upward)


def test_the_facade_loads_only_leaf_modules() -> None:
    """``import vendorgate`` runs only leaf imports; everything else is lazy."""
    eager = [
        (line, target)
        for line, target in _imports("vendorgate", skip_type_checking=True)
        if LAYERS.get(_part(target) or "", 99) != 0
    ]
    assert not eager


def test_no_cycle_between_packages() -> None:
    """Packages (and leaf modules) never import each other in a cycle.

    ``__main__`` modules are entry points (nothing imports them), so they are left out:
    ``python -m vendorgate.testing.sandbox`` runs the CLI's sandbox command.
    """
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        part = _part(module)
        if part is None or module.endswith(".__main__"):
            continue
        for _, target in _imports(module):
            target_part = _part(target)
            if target_part is not None and target_part != part:
                graph.setdefault(part, set()).add(target_part)

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(p for p in graph if p in reach(p))
    assert not cycles, f"packages in an import cycle: {cycles}"


def _loaded_by(statement: str) -> set[str]:
    """The vendorgate modules a fresh interpreter loads for ``statement`` (-X importtime)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for line in out.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        if name.startswith("vendorgate"):
            names.add(name)
    return names


def test_importing_the_cache_loads_neither_http_nor_signing() -> None:
    """``import vendorgate.cache`` loads no vendorgate.http or vendorgate.signing module."""
    loaded = _loaded_by("import vendorgate.cache")
    assert "vendorgate.cache" in loaded
    assert not {m for m in loaded if m.startswith(("vendorgate.http", "vendorgate.signing"))}


def test_importing_the_token_engine_loads_no_http_client() -> None:
    """``import vendorgate.tokens`` does not load the API client (tokens sit below http)."""
    loaded = _loaded_by("import vendorgate.tokens")
    assert "vendorgate.tokens" in loaded
    assert not {m for m in loaded if m.startswith("vendorgate.http")}
