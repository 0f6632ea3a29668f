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
