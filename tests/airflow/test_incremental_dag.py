"""Incremental pulls in Airflow: the example DAG's scheduled runs against a growing data set,
a run killed between its commit and its mark, and the operator's ``incremental`` option."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from vendorgate.airflow._sandbox import sandbox_connection, store_sandbox_secrets

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vendorgate.testing import OpenBaoServer

DAGS = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_FILE = DAGS / "vendorgate_incremental.py"
MARK = "vendorgate_mark_vendorgate_incremental.new_items"

RUNNER = Path(__file__).resolve().parent / "incremental_runner.py"


def _db(env: dict[str, str]) -> Path:
    return Path(env["AIRFLOW_HOME"]) / "airflow.db"


def _forget_marks(env: dict[str, str]) -> None:
    with sqlite3.connect(_db(env)) as conn:
        conn.execute(
            "delete from variable where key like 'vendorgate_mark_%' "
            "or key like 'vendorgate_token_%'"
        )


@pytest.fixture
def growing() -> Iterator[Any]:
    """A sandbox of its own (40 records) that the test grows between runs."""
    from vendorgate.testing import VendorSandbox

    with VendorSandbox(dataset_size=40) as sb:
        yield sb


@pytest.fixture
def dag_env(
    airflow_env: dict[str, str], growing: Any, openbao: OpenBaoServer, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Airflow with the sandbox connection, Vault login, an output dir and no stored mark."""
    store_sandbox_secrets(openbao, growing)
    _forget_marks(airflow_env)
    yield dict(
        airflow_env,
        AIRFLOW_CONN_VENDORGATE_EXAMPLE=json.dumps(sandbox_connection(growing, "lonewolf")),
        VAULT_ADDR=openbao.url,
        VAULT_TOKEN=openbao.root_token,
        VENDORGATE_OUTPUT_DIR=str(tmp_path / "out"),
    )
    _forget_marks(airflow_env)


def _ids(env: dict[str, str], day: str) -> list[int]:
    out = Path(env["VENDORGATE_OUTPUT_DIR"]) / f"items-{day.replace('-', '')}.jsonl"
    return [json.loads(line)["id"] for line in out.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.airflow
@pytest.mark.timeout(1500)
def test_scheduled_runs_fetch_only_new_records_and_a_killed_run_loses_and_repeats_none(
    dag_env: dict[str, str], growing: Any
) -> None:
    """Three daily runs fetch only what is new; a run killed after its commit, rerun or
    followed by the next run, leaves every record in exactly one output."""
    env = dag_env
    steps = [
        "run:2026-01-01",
        "grow:15",
        "run:2026-01-02",
        "grow:5",
        "run:2026-01-03",
        # killed between the commit and the mark write, then the same run again
        "grow:7",
        "crash:2026-01-04",
        "run:2026-01-04",
        # killed again, and the next scheduled run comes instead of a rerun
        "grow:4",
        "crash:2026-01-05",
        "grow:2",
        "run:2026-01-06",
    ]
    proc = subprocess.run(
        [sys.executable, str(RUNNER), str(DAG_FILE), growing.url, *steps],
        env=env,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    reports = [json.loads(x[5:]) for x in proc.stdout.splitlines() if x.startswith("STEP ")]
    assert [r["step"] for r in reports] == [s for s in steps if not s.startswith("grow")]
    states = [r["state"] for r in reports]
    assert states == ["success"] * 3 + ["failed", "success", "failed", "success"], reports
    assert all(r["crashed"] for r in reports if r["step"].startswith("crash")), reports
    marks = [r["mark"] for r in reports]

    assert _ids(env, "2026-01-01") == list(range(40))
    assert _ids(env, "2026-01-02") == list(range(40, 55))
    assert _ids(env, "2026-01-03") == list(range(55, 60))
    assert marks[:3] == [{"mark": 39}, {"mark": 54}, {"mark": 59}]
    # the killed run committed its file and left its intent; its rerun replaced the file
    assert marks[3]["mark"] == 59
    assert marks[3]["pending"]["mark"] == 66
    assert _ids(env, "2026-01-04") == list(range(60, 67))
    assert marks[4] == {"mark": 66}
    # the second killed run's file stays; the next run starts after it
    assert _ids(env, "2026-01-05") == list(range(67, 71))
    assert _ids(env, "2026-01-06") == [71, 72]
    assert marks[6] == {"mark": 72}

    days = [f"2026-01-0{d}" for d in range(1, 7)]
    every = [i for day in days for i in _ids(env, day)]
    assert sorted(every) == list(range(73))  # each record exactly once

    with sqlite3.connect(_db(env)) as conn:
        xcoms = [
            json.loads(row[0])
            for row in conn.execute(
                "select value from xcom where dag_id = 'vendorgate_incremental' "
                "and task_id = 'new_items' and key = 'return_value'"
            )
        ]
    rerun = next(x for x in xcoms if x["output"].endswith("items-20260104.jsonl"))
    assert (rerun["since"], rerun["mark"], rerun["records"]) == (59, 66, 7)
    secret = growing.demo_credentials("lonewolf")["client_secret"].reveal()
    assert secret not in json.dumps(xcoms) + json.dumps(marks)


@pytest.mark.airflow
def test_operator_refuses_an_incomplete_or_unknown_incremental_option() -> None:
    """A typo in the option fails at DAG parse time, naming the keys it knows."""
    from vendorgate.airflow.operators import VendorExtractOperator

    base: dict[str, Any] = {
        "task_id": "t",
        "endpoint": "/items",
        "output_path": "out-{{ ds }}.jsonl",
        "paginator": {"type": "page_number"},
    }
    with pytest.raises(TypeError, match="missing \\['param'\\]"):
        VendorExtractOperator(**base, incremental={"field": "id"})
    with pytest.raises(TypeError, match="unknown \\['feild'\\]"):
        VendorExtractOperator(**base, incremental={"feild": "id", "field": "id", "param": "p"})


@pytest.mark.airflow
def test_operator_limits_the_task_to_one_active_run_when_incremental() -> None:
    """Two overlapping runs would start from the same mark: the task runs one at a time."""
    from vendorgate.airflow.operators import VendorExtractOperator

    base: dict[str, Any] = {
        "endpoint": "/items",
        "output_path": "out-{{ ds }}.jsonl",
        "paginator": {"type": "page_number"},
    }
    inc = {"field": "id", "param": "since_id"}
    assert VendorExtractOperator(task_id="a", **base, incremental=inc).max_active_tis_per_dag == 1
    assert VendorExtractOperator(task_id="b", **base).max_active_tis_per_dag is None
    explicit = VendorExtractOperator(task_id="c", **base, incremental=inc, max_active_tis_per_dag=3)
    assert explicit.max_active_tis_per_dag == 3


@pytest.mark.airflow
def test_operator_refuses_an_incremental_pull_to_a_staged_object_storage_path() -> None:
    """An ObjectStoragePath is uploaded after the commit the mark relies on: refused."""
    from airflow.sdk import ObjectStoragePath

    from vendorgate.airflow.operators import VendorExtractOperator

    with pytest.raises(TypeError, match="fsspec URL string"):
        VendorExtractOperator(
            task_id="t",
            endpoint="/items",
            output_path=ObjectStoragePath("memory://bucket/items.jsonl"),
            paginator={"type": "page_number"},
            incremental={"field": "id", "param": "since_id"},
        )


@pytest.mark.airflow
def test_the_operators_option_keys_are_the_cores() -> None:
    """The parse-time check of the operator knows the same keys as the core."""
    from vendorgate.airflow.operators import _OPTION_KEYS
    from vendorgate.http._incremental import OPTION_KEYS

    assert _OPTION_KEYS == OPTION_KEYS


@pytest.mark.airflow
def test_variable_keys_are_readable_and_bounded() -> None:
    """A DAG and task id give a readable Variable key; anything else is slugged and hashed."""
    from vendorgate.airflow.state import AirflowVariableStateStore

    store = AirflowVariableStateStore()
    assert store.variable_key("my_dag.pull") == "vendorgate_mark_my_dag.pull"
    odd = store.variable_key("a key/with spaces" + "x" * 400)
    assert odd.startswith("vendorgate_mark_a_key_with_spaces")
    assert len(odd) <= 250
    assert odd != store.variable_key("a key/with spaces" + "x" * 401)


@pytest.mark.airflow
def test_parsing_the_incremental_dag_imports_no_vendorgate_machinery(
    airflow_env: dict[str, str],
) -> None:
    """The ``incremental`` option is checked at parse time without the HTTP stack."""
    heavy = ("vendorgate.tokens", "vendorgate.http", "vendorgate.secrets", "vendorgate.cache")
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        f"print(','.join(m for m in sys.modules if m.startswith({heavy!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAG_FILE)],
        env=airflow_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == ""
