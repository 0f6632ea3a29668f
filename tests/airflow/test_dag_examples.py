"""The example DAGs run in a real Airflow 3 (``dag.test()`` on SQLite)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

DAGS = Path(__file__).resolve().parents[2] / "dags_examples"


def test_parsing_the_dag_file_imports_no_vendorgate_machinery(airflow_env: dict[str, str]) -> None:
    """Airflow's frequent DAG parsing stays cheap: no token, Vault or HTTP stack is loaded.

    (Airflow's provider discovery may import vendorgate's provider description, which is
    plain data.)
    """
    heavy = (
        "vendorgate.tokens",
        "vendorgate.http",
        "vendorgate.secrets",
        "vendorgate.cache",
        "vendorgate.connection",
        "hvac",
    )
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        f"print(','.join(m for m in sys.modules if m.startswith({heavy!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAGS / "vendorgate_core_pull.py")],
        env=airflow_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == ""


def test_two_tasks_share_one_token_and_xcom_holds_no_secret(
    airflow_env: dict[str, str],
    sandbox: VendorSandbox,
    openbao: OpenBaoServer,
    tmp_path: Path,
) -> None:
    """A DAG run pulls every record with one token request, and no secret reaches XCom."""
    secret = sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="dag-example/lonewolf", secret={"client_secret": secret}
    )
    settings = {
        "connection": {
            "token": {
                "preset": "lonewolf",
                "client_id": "demo-client",
                "token_url": sandbox.token_url("lonewolf"),
                "client_secret": "vault:secret/dag-example/lonewolf#client_secret",
            },
            "base_url": sandbox.api_url("lonewolf"),
            "cache": {"backend": "file", "directory": str(tmp_path / "cache")},
        },
        "path": "/items",
        "paginator": {"type": "page_number", "page_size": 50, "records_path": "items"},
        "output": str(tmp_path / "items.jsonl"),
    }
    env = dict(
        airflow_env,
        AIRFLOW_VAR_VENDORGATE_EXAMPLE=json.dumps(settings),
        VAULT_ADDR=openbao.url,
        VAULT_TOKEN=openbao.root_token,
    )
    run = subprocess.run(
        [sys.executable, str(DAGS / "vendorgate_core_pull.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    ids = [json.loads(line)["id"] for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    total = sandbox.config()["dataset_size"]
    assert len(ids) == len(set(ids)) == total
    assert sandbox.counters().tokens(vendor="lonewolf") == 1

    db = Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        xcoms = [str(row[0]) for row in conn.execute("select value from xcom")]
    assert xcoms, "the tasks returned values through XCom"
    logs = run.stdout + run.stderr + "".join(xcoms)
    assert secret not in logs
    assert "eyJ" not in "".join(xcoms)
