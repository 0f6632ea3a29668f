"""The Airflow-Variable token store keeps its contract inside a real Airflow task."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

DAG = Path(__file__).resolve().parent / "dags" / "vendorgate_store_checks.py"


def test_variable_store_contract_holds_in_a_task(airflow_env: dict[str, str]) -> None:
    """get/set/delete_if through Airflow Variables behave as every token store must."""
    env = dict(airflow_env, AIRFLOW__CORE__DAGS_FOLDER=str(DAG.parent))
    run = subprocess.run(
        [sys.executable, str(DAG)], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    db = Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute(
            "select value from xcom where dag_id = 'vendorgate_store_checks'"
        ).fetchone()
    assert len(json.loads(value)) == 6


def test_variable_prefix_must_make_airflow_mask_the_value() -> None:
    """A prefix without 'token' would expose cached tokens in the UI: it is refused."""
    from vendorgate import ConfigurationError
    from vendorgate.airflow.cache import AirflowVariableStore

    with pytest.raises(ConfigurationError, match="prefix"):
        AirflowVariableStore(prefix="vendorgate_cache_")
