"""The package as `pip install vendorgate` users meet it: metadata, license, README, docs."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

import vendorgate

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/vendorgate/vendorgate"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _tested_pythons() -> set[str]:
    """The X.Y of each environment the test command runs (.venv-airflow, .venv-prefect)."""
    versions = set()
    for cfg in ROOT.glob(".venv-*/pyvenv.cfg"):
        match = re.search(r"^version_info\s*=\s*(\d+\.\d+)", cfg.read_text(), re.MULTILINE)
        if match:
            versions.add(match[1])
    return versions or {f"{sys.version_info[0]}.{sys.version_info[1]}"}


def test_license_file_is_the_apache_2_text() -> None:
    """The repository root carries the full Apache-2.0 text the metadata declares."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PROJECT["license"] == "Apache-2.0"
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_installed_metadata_carries_the_license_file() -> None:
    """The installed distribution lists LICENSE as its license file."""
    meta = importlib.metadata.metadata("vendorgate")
    assert "LICENSE" in (meta.get_all("License-File") or [])


def test_project_urls_point_at_the_repository_and_docs() -> None:
    """Homepage, Documentation, Repository and Issues are declared, the repository on GitHub."""
    urls = PROJECT["urls"]
    assert set(urls) >= {"Homepage", "Documentation", "Repository", "Issues"}
    assert urls["Repository"] == REPOSITORY
    assert urls["Issues"] == f"{REPOSITORY}/issues"
    assert all(u.startswith("https://") for u in urls.values())


def test_declared_pythons_are_the_tested_ones() -> None:
    """requires-python starts at, and the classifiers list exactly, the tested Pythons."""
    tested = _tested_pythons()
    declared = {
        c.rsplit("::", 1)[1].strip()
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert declared == tested
    oldest = min(tested, key=lambda v: tuple(map(int, v.split("."))))
    assert PROJECT["requires-python"] == f">={oldest}"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == oldest
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + oldest.replace(".", "")


def test_the_version_has_one_source() -> None:
    """The version is written once (vendorgate.__version__); the metadata reads it from there."""
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/vendorgate/__init__.py"
    assert importlib.metadata.version("vendorgate") == vendorgate.__version__


def test_readme_speaks_to_pip_users_first_and_keeps_the_two_commands() -> None:
    """The README starts with `pip install 'vendorgate[...]'`; the repo's commands: Develop."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    assert headings[0] == "Install"
    install = readme.index("## Install")
    develop = readme.index("## Develop")
    assert install < develop
    assert "pip install 'vendorgate[" in readme[install:develop]
    section = readme[develop:]
    assert "python3 scripts/dev.py demo" in section
    assert "python3 scripts/dev.py test" in section
    assert "python3 scripts/dev.py test" in (ROOT / ".ci" / "run").read_text()


def test_docs_link_to_the_real_repository() -> None:
    """The docs site's repository link is the project's repository."""
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(rf"^repo_url: {re.escape(REPOSITORY)}$", mkdocs, re.MULTILINE)
    assert "example.invalid" not in mkdocs


@pytest.mark.parametrize(
    "package",
    ["vendorgate", "dialects", "secrets", "signing", "tokens", "cache", "http", "testing"],
)
def test_api_reference_page_per_public_package(package: str) -> None:
    """Each public package has a reference page generated from its docstrings, in the nav."""
    page = ROOT / "docs" / "reference" / f"{package}.md"
    module = "vendorgate" if package == "vendorgate" else f"vendorgate.{package}"
    assert f"::: {module}" in page.read_text(encoding="utf-8")
    assert f"reference/{package}.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
