"""A throw-away Airflow 3 installation (SQLite) for DAG tests, shared by the session."""

from __future__ import annotations

import os
import subprocess
import sys
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
