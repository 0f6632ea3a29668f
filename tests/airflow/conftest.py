"""A throw-away Airflow 3 installation (SQLite) for DAG tests, shared by the session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("VENDORGATE_TEST_ENV") == "airflow":
    # The airflow environment owns these tests: a broken airflow install must fail, not skip.
    import airflow  # noqa: F401
else:
    pytest.importorskip(
        "airflow", reason="needs the 'airflow' extra (the .venv-airflow environment)"
    )

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags_examples"


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables of a migrated, temporary AIRFLOW_HOME (removed afterwards)."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=180
    )
    return env


@pytest.fixture(autouse=True)
def _adapter_registrations_stay_in_the_test() -> Iterator[None]:
    """Undo the provider's registrations (airflow-conn scheme, airflow-variable store).

    A vendorgate connection registers them process-wide on first use, as in Airflow;
    here they must not leak into tests that list the registered names.
    """
    import vendorgate.airflow._connection as translator
    from vendorgate.cache import _registry
    from vendorgate.secrets import _ref

    stores, both, schemes = dict(_registry._STORES), dict(_registry._BOTH), dict(_ref._SCHEMES)
    yield
    for table, saved in ((_registry._STORES, stores), (_registry._BOTH, both)):
        table.clear()
        table.update(saved)
    _ref._SCHEMES.clear()
    _ref._SCHEMES.update(schemes)
    translator._registered = False
