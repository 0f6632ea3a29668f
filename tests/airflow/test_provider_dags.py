"""The provider's example DAGs run in a real Airflow 3 (``dag.test()``) against the vendor
sandbox, with their secrets in a real OpenBao."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vendorgate.airflow._sandbox import sandbox_connection, store_sandbox_secrets

if TYPE_CHECKING:
    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

DAGS = Path(__file__).resolve().parents[2] / "dags_examples"
PRESETS = (
    "techwolf-eu",
    "techwolf-us",
    "lonewolf",
    "tci-atm",
    "oauth2-basic",
    "oauth2-post",
    "oauth2-private-key-jwt",
    "wokelo",
)


def _db(env: dict[str, str]) -> Path:
    return Path(env["AIRFLOW_HOME"]) / "airflow.db"


def _fresh_cache(env: dict[str, str]) -> None:
    """Forget the tokens earlier tests left in the Variable cache of the shared DB."""
    with sqlite3.connect(_db(env)) as conn:
        conn.execute("delete from variable where key like 'vendorgate_token_%'")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def dag_env(
    airflow_env: dict[str, str], sandbox: VendorSandbox, openbao: OpenBaoServer, tmp_path: Path
) -> dict[str, str]:
    """The Airflow environment with Vault login, an output dir and an empty token cache."""
    store_sandbox_secrets(openbao, sandbox)
    _fresh_cache(airflow_env)
    return dict(
        airflow_env,
        VAULT_ADDR=openbao.url,
        VAULT_TOKEN=openbao.root_token,
        VENDORGATE_OUTPUT_DIR=str(tmp_path / "out"),
    )


def _secrets(sandbox: VendorSandbox) -> list[str]:
    cfg = sandbox.config()
    values = [cfg["demo_private_key_pem"].splitlines()[1]]
    for entry in cfg["vendors"].values():
        values += [entry[k] for k in ("client_secret", "password") if entry.get(k)]
    return values


@pytest.mark.timeout(900)
def test_mapped_dag_shares_one_token_across_24_tasks(
    dag_env: dict[str, str], sandbox: VendorSandbox
) -> None:
    """24 mapped tasks and a full extract cost the vendor one token request."""
    conn = sandbox_connection(sandbox, "lonewolf")
    env = dict(dag_env, AIRFLOW_CONN_VENDORGATE_EXAMPLE=json.dumps(conn))
    run = _run(env, str(DAGS / "vendorgate_mapped_pages.py"))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    out = Path(env["VENDORGATE_OUTPUT_DIR"]) / "items.jsonl"
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == sandbox.config()["dataset_size"]
    assert sandbox.counters().tokens(vendor="lonewolf") == 1
    with sqlite3.connect(_db(env)) as db:
        mapped = db.execute(
            "select count(*) from task_instance where dag_id = 'vendorgate_mapped_pages' "
            "and task_id = 'read_page' and state = 'success'"
        ).fetchone()[0]
        xcoms = "".join(str(r[0]) for r in db.execute("select value from xcom"))
        cached = db.execute(
            "select count(*) from variable where key like 'vendorgate_token_%'"
        ).fetchone()[0]
    assert mapped == 24
    assert cached == 1
    for secret in _secrets(sandbox):
        assert secret not in xcoms


@pytest.mark.timeout(1200)
def test_every_preset_dag_runs_against_the_sandbox(
    dag_env: dict[str, str], sandbox: VendorSandbox
) -> None:
    """Each preset's example DAG gets one token with secrets from Vault and extracts everything."""
    env = dict(dag_env)
    for preset in PRESETS:
        conn_env = "AIRFLOW_CONN_VENDORGATE_" + preset.replace("-", "_").upper()
        env[conn_env] = json.dumps(sandbox_connection(sandbox, preset))
    run = _run(env, str(DAGS / "vendorgate_presets.py"), "all")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    total = sandbox.config()["dataset_size"]
    for preset in PRESETS:
        out = Path(env["VENDORGATE_OUTPUT_DIR"]) / f"{preset}.jsonl"
        assert len(out.read_text().splitlines()) == total, preset
    # one token per client identity: the two oauth2 presets with a client secret are two
    # clients of the same vendor (basic vs body authentication), and so on
    assert sandbox.counters().tokens() == len(PRESETS)


@pytest.mark.timeout(900)
def test_deferrable_report_dag_waits_in_the_trigger_and_downloads(
    dag_env: dict[str, str], sandbox: VendorSandbox
) -> None:
    """The report is ordered, awaited by the deferred sensor's trigger, then downloaded whole."""
    sandbox.set_faults(report_ready_after_polls=2)
    conn = sandbox_connection(sandbox, "lonewolf")
    env = dict(dag_env, AIRFLOW_CONN_VENDORGATE_EXAMPLE=json.dumps(conn))
    run = _run(env, str(DAGS / "vendorgate_report_deferrable.py"))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    (report,) = Path(env["VENDORGATE_OUTPUT_DIR"]).glob("report-*.jsonl")
    assert len(report.read_text().splitlines()) == 120
    (weekly,) = Path(env["VENDORGATE_OUTPUT_DIR"]).glob("weekly-*.jsonl")
    assert len(weekly.read_text().splitlines()) == 60
    counters = sandbox.counters()
    assert counters.reports_created == 2
    assert counters.report_polls >= 6
    assert counters.tokens(vendor="lonewolf") == 1
