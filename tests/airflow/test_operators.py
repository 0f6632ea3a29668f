"""Operators, sensor and trigger against the vendor sandbox (executed directly, no DAG run)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from vendorgate.airflow._sandbox import sandbox_connection

if TYPE_CHECKING:
    from vendorgate.testing import VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

PAGES = {"type": "page_number", "page_size": 50, "records_path": "items"}


@pytest.fixture
def conn_id(sandbox: VendorSandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """A lonewolf connection whose password holds the demo client secret (memory cache)."""
    conn = sandbox_connection(sandbox, "lonewolf", cache="memory")
    del conn["extra"]["client_secret_ref"]
    conn["password"] = sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    monkeypatch.setenv("AIRFLOW_CONN_VG_OPS", json.dumps(conn))
    return "vg_ops"


def test_api_operator_returns_the_json_reply(conn_id: str) -> None:
    """A small reply is the task's XCom value."""
    from vendorgate.airflow.operators import VendorApiOperator

    op = VendorApiOperator(
        task_id="t", vendorgate_conn_id=conn_id, endpoint="/items", query_params={"per_page": 2}
    )
    reply = op.execute({})  # type: ignore[arg-type]
    assert [item["id"] for item in reply["items"]] == [0, 1]


def test_api_operator_refuses_a_reply_above_the_xcom_guard(conn_id: str) -> None:
    """A reply over max_xcom_bytes fails with its size and the guard's setting."""
    from vendorgate.airflow.operators import VendorApiOperator, XComSizeError

    op = VendorApiOperator(
        task_id="t",
        vendorgate_conn_id=conn_id,
        endpoint="/items",
        query_params={"per_page": 100},
        max_xcom_bytes=1024,
    )
    with pytest.raises(XComSizeError, match=r"is \d+ bytes.*max_xcom_bytes=1024"):
        op.execute({})  # type: ignore[arg-type]


def test_extract_operator_returns_path_and_counts_never_data(
    conn_id: str, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """The pull lands in the file; XCom gets its path and counts."""
    from vendorgate.airflow.operators import VendorExtractOperator

    out = tmp_path / "items.jsonl"
    op = VendorExtractOperator(
        task_id="t",
        vendorgate_conn_id=conn_id,
        endpoint="/items",
        paginator=PAGES,
        output_path=str(out),
    )
    result = op.execute({})  # type: ignore[arg-type]
    total = sandbox.config()["dataset_size"]
    assert result == {"output": str(out), "records": total, "pages": 20, "resumed": False}
    assert len(out.read_text().splitlines()) == total
    assert op.outlets[0].uri == f"file://{out}"


def test_extract_operator_retry_resumes_without_duplicates(
    conn_id: str, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """A task retry after a failed page continues from the checkpoint: no duplicate, no gap."""
    from vendorgate import APIError
    from vendorgate.airflow.operators import VendorExtractOperator

    out = tmp_path / "items.jsonl"
    op = VendorExtractOperator(
        task_id="t",
        vendorgate_conn_id=conn_id,
        endpoint="/items",
        paginator=PAGES,
        output_path=str(out),
    )
    sandbox.set_faults(path="/lonewolf/api/items", status=400, status_every=3)
    with pytest.raises(APIError):
        op.execute({})  # type: ignore[arg-type]
    sandbox.clear_faults()
    result = op.execute({})  # type: ignore[arg-type]
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert result["resumed"] is True
    assert len(ids) == len(set(ids)) == sandbox.config()["dataset_size"]


def _try(number: int, run: str = "scheduled__2026-11-30T00:00:00+00:00") -> dict[str, Any]:
    """The context of one try of one task instance (what the operator reads of it)."""
    from types import SimpleNamespace

    ti = SimpleNamespace(
        dag_id="d",
        run_id=run,
        task_id="t",
        map_index=-1,
        try_number=number,
    )
    return {"ti": ti, "run_id": ti.run_id}


def test_extract_operator_retry_after_a_crash_past_the_move_fetches_nothing(
    conn_id: str, sandbox: VendorSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A try killed after its file was moved into place, before its checkpoint was
    removed: the task's next try finishes that pull (it is the same task instance)
    instead of fetching every page again; another DAG run's task fetches again."""
    from vendorgate.airflow.operators import VendorExtractOperator

    out = tmp_path / "items.jsonl"
    op = VendorExtractOperator(
        task_id="t",
        vendorgate_conn_id=conn_id,
        endpoint="/items",
        paginator=PAGES,
        output_path=str(out),
    )
    checkpoint = Path(f"{out}.checkpoint.json")
    real_unlink = Path.unlink

    def killed(self: Path, missing_ok: bool = False) -> None:
        if self == checkpoint:
            raise KeyboardInterrupt("worker killed after the move")
        real_unlink(self, missing_ok=missing_ok)

    with monkeypatch.context() as m:
        m.setattr(Path, "unlink", killed)
        with pytest.raises(KeyboardInterrupt):
            op.execute(_try(1))  # type: ignore[arg-type]
    assert checkpoint.exists()
    total = sandbox.config()["dataset_size"]
    before = sandbox.counters().api_requests.get("lonewolf", 0)
    result = op.execute(_try(2))  # type: ignore[arg-type]
    assert sandbox.counters().api_requests.get("lonewolf", 0) == before
    assert result == {"output": str(out), "records": total, "pages": 20, "resumed": True}
    assert not checkpoint.exists()
    assert len(out.read_text().splitlines()) == total

    with monkeypatch.context() as m:
        m.setattr(Path, "unlink", killed)
        with pytest.raises(KeyboardInterrupt):
            op.execute(_try(1))  # type: ignore[arg-type]
    other = op.execute(_try(1, run="manual__2026-11-30T01:00:00+00:00"))  # type: ignore[arg-type]
    assert other["resumed"] is False
    assert sandbox.counters().api_requests.get("lonewolf", 0) >= before + 2 * 20


def test_trigger_serializes_plain_values_only(conn_id: str) -> None:
    """serialize() is JSON with the connection id, never a secret, and rebuilds the trigger."""
    from vendorgate.airflow.triggers import VendorPollTrigger

    trigger = VendorPollTrigger(
        vendorgate_conn_id=conn_id,
        endpoint="/reports/1",
        response_check={"path": "status", "equals": "ready"},
        poll_interval_s=1,
    )
    path, kwargs = trigger.serialize()
    assert path == "vendorgate.airflow.triggers.VendorPollTrigger"
    text = json.dumps(kwargs)
    assert "demo-secret" not in text
    assert VendorPollTrigger(**json.loads(text)).serialize() == (path, kwargs)


def _first_event(trigger: Any) -> dict[str, Any]:
    async def first() -> Any:
        return await anext(trigger.run())

    return dict(asyncio.run(first()).payload)


def _report(sandbox: VendorSandbox, conn_id: str, records: int = 30) -> str:
    from vendorgate.airflow.hooks import VendorGateHook

    with VendorGateHook(vendorgate_conn_id=conn_id).get_conn() as client:
        reply = client.post("/reports", json={"name": "t", "records": records})
    return str(reply.json()["id"])


def test_trigger_fires_when_the_report_is_ready(conn_id: str, sandbox: VendorSandbox) -> None:
    """The trigger polls until ready and carries only the value at result_path."""
    from vendorgate.airflow.triggers import VendorPollTrigger

    sandbox.set_faults(report_ready_after_polls=2)
    job = _report(sandbox, conn_id)
    event = _first_event(
        VendorPollTrigger(
            vendorgate_conn_id=conn_id,
            endpoint=f"/reports/{job}",
            response_check={"path": "status", "equals": "ready"},
            result_path="download_url",
            poll_interval_s=0.05,
        )
    )
    assert event["status"] == "success"
    assert event["result"].endswith(f"/reports/{job}/download")
    assert event["polls"] == 3


def test_trigger_reports_a_failed_job(conn_id: str, sandbox: VendorSandbox) -> None:
    """A job the vendor failed ends the wait at once with the status."""
    from vendorgate.airflow.triggers import VendorPollTrigger

    sandbox.set_faults(report_fail_burst=1, report_ready_after_polls=0)
    job = _report(sandbox, conn_id)
    event = _first_event(
        VendorPollTrigger(
            vendorgate_conn_id=conn_id,
            endpoint=f"/reports/{job}",
            response_check={"path": "status", "equals": "ready", "fail_on": ["failed"]},
            poll_interval_s=0.05,
        )
    )
    assert event["status"] == "failed"
    assert "'failed'" in event["message"]


def test_sensor_pokes_until_ready_and_returns_the_link(
    conn_id: str, sandbox: VendorSandbox
) -> None:
    """In poke/reschedule mode each poke is one GET; the result path goes to XCom."""
    from vendorgate.airflow.sensors import VendorSensor

    sandbox.set_faults(report_ready_after_polls=1)
    job = _report(sandbox, conn_id)
    sensor = VendorSensor(
        task_id="s",
        vendorgate_conn_id=conn_id,
        endpoint=f"/reports/{job}",
        response_check={"path": "status", "equals": "ready"},
        result_path="download_url",
    )
    first = sensor.poke({})  # type: ignore[arg-type]
    second = sensor.poke({})  # type: ignore[arg-type]
    assert (first.is_done, second.is_done) == (False, True)
    assert str(second.xcom_value).endswith("/download")


def test_deferrable_sensor_refuses_a_function_check() -> None:
    """A trigger carries plain data: a callable check with deferrable=True is refused."""
    from vendorgate.airflow.sensors import VendorSensor

    with pytest.raises(TypeError, match="response_check"):
        VendorSensor(task_id="s", endpoint="/x", response_check=bool, deferrable=True)
