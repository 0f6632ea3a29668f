"""The Airflow-Variable token store keeps the contract every token store keeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.airflow]


def test_variable_store_passes_the_shipped_store_contract(airflow_env: dict[str, str]) -> None:
    """The store, alone and with a file lock, passes the shipped contract (Execution API)."""
    suite = Path(__file__).resolve().parent / "in_task" / "variable_store_contract.py"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider"],
        env=airflow_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


def test_variable_prefix_must_make_airflow_mask_the_value() -> None:
    """A prefix without 'token' would expose cached tokens in the UI: it is refused."""
    from vendorgate import ConfigurationError
    from vendorgate.airflow.cache import AirflowVariableStore

    with pytest.raises(ConfigurationError, match="prefix"):
        AirflowVariableStore(prefix="vendorgate_cache_")


def test_a_variable_that_cannot_be_read_is_never_taken_for_an_absent_one(
    airflow_env: dict[str, str],
) -> None:
    """A busy metadata database makes the cache and the marks fail loudly, not start over."""
    suite = Path(__file__).resolve().parent / "in_task" / "variable_read_failures.py"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider"],
        env=dict(airflow_env, AIRFLOW__WORKERS__EXECUTION_API_RETRIES="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "5 passed" in run.stdout.splitlines()[-1]
