"""The provider's public names resolve, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import vendorgate.airflow

pytestmark = pytest.mark.airflow


def test_every_exported_name_resolves() -> None:
    """Each name in vendorgate.airflow.__all__ imports (lazily) without error."""
    for name in vendorgate.airflow.__all__:
        assert getattr(vendorgate.airflow, name) is not None, name


def test_importing_the_package_loads_neither_airflow_nor_the_http_stack() -> None:
    """'import vendorgate.airflow' costs nothing until a name is used."""
    code = (
        "import sys, vendorgate.airflow;"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('airflow', 'httpx', 'hvac', 'jwt'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_the_operators_loads_no_token_engine_vault_or_http_client() -> None:
    """A DAG file importing the operators, sensor and hook parses without the heavy parts."""
    code = (
        "import sys;"
        "import vendorgate.airflow.operators, vendorgate.airflow.sensors, vendorgate.airflow.hooks;"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(("
        "'vendorgate.tokens', 'vendorgate.http', 'vendorgate.secrets', 'vendorgate.cache', "
        "'vendorgate.connection', 'hvac')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
