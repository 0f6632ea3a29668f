"""The README's main command also runs the mapped example DAG end to end."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest

from vendorgate.airflow._demo import airflow_demo_step
from vendorgate.testing._demo import run_demo

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.timeout(1200)]


def test_demo_runs_the_mapped_dag_with_one_token_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'vendorgate demo' reports the DAG's output file and one token request for 25 tasks."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the copy it keeps: removed after
    out = io.StringIO()
    run_demo(pages=1, page_size=10, out=out, steps=[airflow_demo_step])
    text = out.getvalue()
    assert "Airflow: mapped DAG ok" in text, text
    assert "1 token request(s) for the whole DAG run" in text
    assert "10 records written to" in text
    for secret in ("demo-secret-", "demo-password", "BEGIN", "eyJ"):
        assert secret not in text
