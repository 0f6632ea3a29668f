"""The public surface is curated and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import vendorgate


def test_every_exported_name_resolves() -> None:
    """Every name in vendorgate.__all__ can be imported from the package."""
    for name in vendorgate.__all__:
        assert getattr(vendorgate, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A typo gives the usual AttributeError, not an import failure."""
    with pytest.raises(AttributeError, match="NoSuchThing"):
        vendorgate.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_import_does_not_load_heavy_dependencies() -> None:
    """`import vendorgate` at DAG-parse time loads no HTTP, Vault or crypto stack."""
    code = (
        "import sys, vendorgate, vendorgate.dialects, vendorgate.testing;"
        "heavy = [m for m in ('httpx', 'hvac', 'jwt', 'cryptography', 'uvicorn',"
        " 'airflow', 'prefect')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_all_lists_every_lazy_name() -> None:
    """Names served lazily are part of the documented surface."""
    assert set(vendorgate._LAZY) <= set(vendorgate.__all__)


def test_library_leaves_logging_to_the_application() -> None:
    """Unconfigured apps get no stray WARNINGs on stderr; configured handlers still do."""
    import logging

    handlers = logging.getLogger("vendorgate").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def _subpackages() -> list[str]:
    """Every package of vendorgate (directories with an ``__init__.py``)."""
    from pathlib import Path

    root = Path(vendorgate.__file__).resolve().parent
    return sorted(
        ".".join(("vendorgate", *p.parent.relative_to(root).parts))
        for p in root.rglob("__init__.py")
        if p.parent != root
    )


@pytest.mark.parametrize("package", _subpackages())
def test_every_subpackage_exports_what_its_all_lists(package: str) -> None:
    """Every name in a subpackage's __all__ can be imported from it, lazy ones included."""
    import importlib

    framework = package.split(".")[1]
    if framework in ("airflow", "prefect"):
        pytest.importorskip(framework)
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{package} has no __all__"
    assert len(set(names)) == len(names), f"{package}.__all__ repeats a name"
    for name in names:
        assert getattr(module, name) is not None, f"{package}.{name}"
    lazy = getattr(module, "_LAZY", {})
    assert set(lazy) <= set(names), f"{package}: lazy names missing from __all__"


def test_leaf_objects_keep_their_public_homes() -> None:
    """Token, the retry engine and the URL helper moved to leaf modules; the old imports
    still give the same objects."""
    from vendorgate import _retry, _token, _url
    from vendorgate.http import RetryPolicy, parse_retry_after, retry_testing
    from vendorgate.http._response import safe_url
    from vendorgate.tokens import Token
    from vendorgate.tokens._token import Token as OldToken

    assert Token is OldToken is _token.Token is vendorgate.Token
    assert RetryPolicy is _retry.RetryPolicy is vendorgate.RetryPolicy
    assert parse_retry_after is _retry.parse_retry_after
    assert retry_testing is _retry.retry_testing
    assert safe_url is _url.safe_url
