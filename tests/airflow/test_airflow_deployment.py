"""The provider in a real Airflow 3.3 deployment: PostgreSQL, api-server, scheduler
(LocalExecutor, parallelism 8), dag-processor and triggerer, driven by the CLI and the
REST API. Tests run in file order: the last one scans every log the earlier ones made."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from airflow_deployment import AirflowDeployment

from vendorgate.airflow._sandbox import sandbox_connection, store_sandbox_secrets

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.timeout(900)]

DAGS = Path(__file__).resolve().parents[2] / "dags_examples"
MAPPED = "vendorgate_mapped_pages"


@pytest.fixture(scope="module")
def deployment(
    vendor_sandbox: VendorSandbox, openbao: OpenBaoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowDeployment]:
    """A running deployment with the sandbox connections added through the CLI."""
    store_sandbox_secrets(openbao, vendor_sandbox)
    out = tmp_path_factory.mktemp("deploy-out")
    dep = AirflowDeployment(
        dags_folder=DAGS,
        extra_env={
            "VAULT_ADDR": openbao.url,
            "VAULT_TOKEN": openbao.root_token,
            "VENDORGATE_OUTPUT_DIR": str(out),
        },
    )
    with dep:
        conn = sandbox_connection(vendor_sandbox, "lonewolf", vault_addr=openbao.url)
        dep.cli("connections", "add", "vendorgate_example", "--conn-json", json.dumps(conn))
        yield dep
    assert dep.leftovers() == []


def _trigger(dep: AirflowDeployment, dag_id: str) -> str:
    dep.wait_for_dag(dag_id)
    run_id = f"test__{dag_id}"
    dep.cli("dags", "trigger", dag_id, "--run-id", run_id)
    return run_id


def _good_body(sandbox: VendorSandbox, **changes: Any) -> dict[str, Any]:
    conn = sandbox_connection(sandbox, "lonewolf")
    body = {
        "connection_id": "vendorgate_probe",
        "conn_type": "vendorgate",
        "host": conn["host"],
        "login": conn["login"],
        "extra": json.dumps(conn["extra"]),
    }
    body.update(changes)
    return body


def test_mapped_dag_run_costs_one_token_request(
    deployment: AirflowDeployment, vendor_sandbox: VendorSandbox
) -> None:
    """24 mapped tasks in separate worker processes share one token: one request to the vendor."""
    vendor_sandbox.reset()
    run_id = _trigger(deployment, MAPPED)
    state = deployment.wait_for_run(MAPPED, run_id)
    assert state == "success", deployment.tail("scheduler")
    tasks = deployment.task_states(MAPPED, run_id)
    assert len([t for t in tasks if t["task_id"] == "read_page"]) == 24
    assert {t["state"] for t in tasks} == {"success"}
    assert vendor_sandbox.counters().tokens(vendor="lonewolf") == 1


def test_deferrable_report_dag_completes_through_the_triggerer(
    deployment: AirflowDeployment, vendor_sandbox: VendorSandbox
) -> None:
    """The deferred sensor's trigger polls the report in the triggerer with the shared token."""
    vendor_sandbox.reset()
    # ready only after a few seconds: a trigger firing at once can meet apache/airflow#67287
    vendor_sandbox.set_faults(report_ready_after_s=4)
    dag_id = "vendorgate_report_deferrable"
    run_id = _trigger(deployment, dag_id)
    state = deployment.wait_for_run(dag_id, run_id)
    assert state == "success", deployment.tail("triggerer") + deployment.tail("scheduler")
    tasks = {t["task_id"]: t for t in deployment.task_states(dag_id, run_id)}
    if tasks["wait_until_ready"]["try_number"] > 1:
        warnings.warn(
            f"the deferred sensor needed {tasks['wait_until_ready']['try_number']} tries "
            "(a stale trigger event, apache/airflow#67287)",
            stacklevel=1,
        )
    # the sensor never pokes in deferrable mode: it resumed from the trigger's event
    sensor_logs = "".join(
        p.read_text(errors="replace")
        for p in (deployment.home / "logs").rglob("*")
        if p.is_file() and "task_id=wait_until_ready" in str(p)
    )
    assert "ready after" in sensor_logs
    assert tasks["download_weekly_when_ready"]["state"] == "success"
    counters = vendor_sandbox.counters()
    assert counters.report_polls >= 2
    assert counters.report_downloads >= 1
    # the triggerer and the tasks reused the token the mapped DAG run cached
    assert counters.tokens(vendor="lonewolf") == 0


def test_connection_test_endpoint_says_ok_for_a_good_connection(
    deployment: AirflowDeployment, vendor_sandbox: VendorSandbox
) -> None:
    """The UI's Test button (POST /api/v2/connections/test) asks the vendor for a token."""
    reply = deployment.api("POST", "/connections/test", json=_good_body(vendor_sandbox))
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] is True, reply.json()


def test_connection_test_endpoint_names_the_missing_field(
    deployment: AirflowDeployment, vendor_sandbox: VendorSandbox
) -> None:
    """A connection without a preset fails the test with a message naming extra.preset."""
    extra = json.loads(_good_body(vendor_sandbox)["extra"])
    del extra["preset"]
    body = _good_body(vendor_sandbox, extra=json.dumps(extra))
    result = deployment.api("POST", "/connections/test", json=body).json()
    assert result["status"] is False
    assert "extra.preset" in result["message"]


def test_rest_api_shows_stars_for_secrets_and_tokens(
    deployment: AirflowDeployment, vendor_sandbox: VendorSandbox, openbao: OpenBaoServer
) -> None:
    """Reading connections and the token Variable through the API reveals no secret or token."""
    secret = vendor_sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    conn = sandbox_connection(vendor_sandbox, "lonewolf")
    extra = dict(conn["extra"], vault_token=openbao.root_token)
    del extra["client_secret_ref"]
    deployment.cli(
        "connections",
        "add",
        "vendorgate_with_password",
        "--conn-json",
        json.dumps(dict(conn, password=secret, extra=extra)),
    )
    reply = deployment.api("GET", "/connections/vendorgate_with_password")
    assert secret not in reply.text
    assert openbao.root_token not in reply.text
    shown = reply.json()
    assert shown["password"] == "***"
    assert json.loads(shown["extra"])["vault_token"] == "***"
    ref = json.loads(deployment.api("GET", "/connections/vendorgate_example").json()["extra"])
    assert ref["client_secret_ref"] == "***"
    assert ref["preset"] == "lonewolf"

    tokens = _cached_tokens(deployment)
    variables = deployment.api("GET", "/variables", params={"limit": 100})
    cached = [v for v in variables.json()["variables"] if v["key"].startswith("vendorgate_token_")]
    assert len(cached) == 1
    one = deployment.api("GET", f"/variables/{cached[0]['key']}")
    # Airflow masks the whole value, or (for JSON) every secret-named key in it
    for value in (cached[0]["value"], one.json()["value"]):
        assert value == "***" or json.loads(value)["token"]["access_token"] == "***"
    for text in (variables.text, one.text):
        for token in tokens:
            assert token not in text


def _cached_tokens(dep: AirflowDeployment) -> list[str]:
    import contextlib

    import psycopg2
    from cryptography.fernet import Fernet

    tokens = []
    with contextlib.closing(
        psycopg2.connect(dbname=dep.db, host="127.0.0.1", user="postgres")
    ) as c:
        cur = c.cursor()
        cur.execute("select val from variable where key like 'vendorgate_token_%%'")
        for (val,) in cur.fetchall():
            entry = json.loads(Fernet(dep.fernet_key.encode()).decrypt(val.encode()))
            tokens.append(entry["token"]["access_token"])
    return tokens


def test_no_log_holds_a_secret_or_a_token(
    deployment: AirflowDeployment, vendor_sandbox: VendorSandbox, openbao: OpenBaoServer
) -> None:
    """Every task, trigger, processor and process log is free of secrets and tokens."""
    tokens = _cached_tokens(deployment)
    assert tokens, "the mapped DAG run left its token in the Variable cache"
    secret = vendor_sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    logs = deployment.log_text()
    assert "read_page" in logs, "the task logs were scanned"
    for value in [secret, openbao.root_token, *tokens]:
        assert value not in logs
