"""The Airflow side of the fault matrix: one throw-away DAG per scenario, run with
``dag.test()`` in its own process on a temporary AIRFLOW_HOME (SQLite).

The DAG file is generic: its DAG id, operator, connection, output and retries come from
the environment, so every scenario runs its own DAG (its own task instances, XComs and
logs) without a DAG file of its own. The connection is an ``AIRFLOW_CONN_*`` variable.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The connection id every scenario's DAG uses (``AIRFLOW_CONN_VG_RELIAB``).
CONN_ID = "vg_reliab"
#: The Variables of the token cache (masked; hold tokens by design).
CACHE_VARIABLE_PREFIX = "vendorgate_token_"
#: Records per page of the extracts (the sandbox's 1000 records: 20 pages).
PAGE_SIZE = 50

DAG_FILE = textwrap.dedent(
    '''
    """The fault matrix's DAG: one task, configured by the environment."""

    import datetime as dt
    import json
    import os

    from airflow.sdk import DAG, task

    from vendorgate.airflow.operators import VendorApiOperator, VendorExtractOperator

    DAG_ID = os.environ.get("VG_RELIAB_DAG_ID", "vendorgate_reliab_idle")
    KIND = os.environ.get("VG_RELIAB_KIND", "extract")
    RETRIES = int(os.environ.get("VG_RELIAB_RETRIES", "0"))
    COMMON = dict(
        vendorgate_conn_id="vg_reliab",
        retries=RETRIES,
        retry_delay=dt.timedelta(seconds=1),
        execution_timeout=dt.timedelta(seconds=120),
    )

    with DAG(DAG_ID, schedule=None, catchup=False, tags=["vendorgate-reliability"]) as dag:
        if KIND == "extract":
            VendorExtractOperator(
                task_id="extract",
                endpoint="/items",
                paginator={
                    "type": "page_number",
                    "page_size": int(os.environ.get("VG_RELIAB_PAGE_SIZE", "50")),
                    "records_path": "items",
                },
                output_path=os.environ.get("VG_RELIAB_OUTPUT", "/nonexistent/items.jsonl"),
                **COMMON,
            )
        elif KIND == "api":
            VendorApiOperator(
                task_id="call", endpoint="/items", query_params={"per_page": 5}, **COMMON
            )
        else:  # "noop": warms a driver up (imports, the in-process Execution API)
            task(task_id="noop")(lambda: None)()

    '''
)


def write_dag_folder(folder: Path) -> Path:
    """Write the generic DAG file into ``folder`` (the DAGS_FOLDER); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vendorgate_reliab_dag.py"
    path.write_text(DAG_FILE)
    return path


def migrate(home: Path, dags: Path) -> dict[str, str]:
    """A migrated AIRFLOW_HOME at ``home``; return the environment that uses it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__"))
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    return env


#: A long-lived ``dag.test()`` process: Airflow's imports and its in-process Execution
#: API cost a minute or more on a busy host, once per process; each scenario's DAG run then
#: takes seconds. It reads one command file at a time (the scenario's environment, DAG id
#: and logical date), runs the DAG with ``dag.test()`` in this process (the task runs
#: here, as in a worker's task process) and writes the run's state to the result file.
DRIVER = textwrap.dedent(
    """
    import json, os, runpy, sys, time, traceback
    inbox = sys.argv[1]
    n = 0
    while True:
        n += 1
        command = os.path.join(inbox, f"{n}.json")
        while not os.path.exists(command):
            time.sleep(0.05)
        spec = json.loads(open(command).read())
        os.remove(command)  # it holds the connection, secrets included
        os.environ.update(spec["env"])
        print(f"VG_RELIAB_BEGIN {spec['dag_id']}", flush=True)
        state = None
        try:
            import datetime as dt
            dag = runpy.run_path(spec["dag_file"], run_name="vendorgate_reliab")["dag"]
            run = dag.test(logical_date=dt.datetime.fromisoformat(spec["logical_date"]))
            state = None if run is None else str(run.state)
        except BaseException:
            traceback.print_exc()
        print(f"VG_RELIAB_END {spec['dag_id']} {state}", flush=True)
        sys.stdout.flush(); sys.stderr.flush()
        tmp = spec["result"] + ".tmp"
        with open(tmp, "w") as fh:
            json.dump({"state": state}, fh)
        os.replace(tmp, spec["result"])
    """
)


class Driver:
    """A ``dag.test()`` process that runs one scenario's DAG after another."""

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.work = work
        self.inbox = work / "inbox"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.log = work / "driver.log"
        self.sent = 0
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", DRIVER, str(self.inbox)],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def submit(self, dag_file: Path, env: dict[str, str], dag_id: str, logical_date: str) -> Path:
        """Hand the driver a DAG run; return the file its result will appear in."""
        self.sent += 1
        result = self.work / f"result-{self.sent}.json"
        command = {
            "dag_file": str(dag_file),
            "env": env,
            "dag_id": dag_id,
            "logical_date": logical_date,
            "result": str(result),
        }
        tmp = self.inbox / f".{self.sent}.json.tmp"
        tmp.write_text(json.dumps(command))
        tmp.replace(self.inbox / f"{self.sent}.json")
        return result

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def stop(self) -> None:
        """Kill the driver (and any process it started) by its process group."""
        kill_group(self.proc)
        for leftover in self.inbox.glob("*.json"):
            leftover.unlink()


@dataclass
class DagRunResult:
    """What one ``dag.test()`` left: the run's state, its log, the task's rows."""

    state: str | None
    log: Path
    seconds: float
    tries: list[str] = field(default_factory=list)
    xcom: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace")


class AirflowScenario:
    """One scenario's DAG: its id, connection, environment and output path."""

    def __init__(self, env: dict[str, str], dag_id: str, work: Path, driver: Any) -> None:
        self.base_env = env
        self.dag_id = dag_id
        self.work = work
        self.output = work / "items.jsonl"
        self.conn: dict[str, Any] = {}
        self.extra_env: dict[str, str] = {}
        self.kind = "extract"
        self.retries = 0
        self.logical_date = "2026-01-01T00:00:00+00:00"
        self.runs = 0
        #: Returns the shared, warm driver (a new one when the last was killed).
        self._driver = driver

    @property
    def home(self) -> Path:
        return Path(self.base_env["AIRFLOW_HOME"])

    @property
    def db(self) -> Path:
        return self.home / "airflow.db"

    @property
    def dag_file(self) -> Path:
        return Path(self.base_env["AIRFLOW__CORE__DAGS_FOLDER"]) / "vendorgate_reliab_dag.py"

    def env(self) -> dict[str, str]:
        """What this scenario sets in the driver's environment."""
        return {
            **self.extra_env,
            f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(self.conn),
            "VG_RELIAB_DAG_ID": self.dag_id,
            "VG_RELIAB_KIND": self.kind,
            "VG_RELIAB_RETRIES": str(self.retries),
            "VG_RELIAB_OUTPUT": str(self.output),
            "VG_RELIAB_PAGE_SIZE": str(PAGE_SIZE),
        }

    def start(self, driver: Driver | None = None) -> Pending:
        """Start the DAG run in ``driver`` (default: the shared one); do not wait."""
        driver = driver or self._driver()
        self.runs += 1
        offset = driver.log_size()
        result = driver.submit(self.dag_file, self.env(), self.dag_id, self.logical_date)
        return Pending(self, driver, result, offset, time.monotonic())

    def run(self, timeout_s: float = 240) -> DagRunResult:
        """Run the DAG once with ``dag.test()`` and wait for it."""
        return self.start().wait(timeout_s)

    def collect(
        self, state: str | None, seconds: float, driver: Driver, offset: int
    ) -> DagRunResult:
        """The run's outcome: its log (the driver's lines since ``offset``) and DB rows."""
        log = self.work / f"dag-test-{self.runs}.log"
        with driver.log.open("rb") as fh:
            fh.seek(offset)
            log.write_bytes(fh.read())
        return DagRunResult(state, log, seconds, self.task_tries(), self.xcom_values())

    # -- what the metadata DB holds ------------------------------------------------------
    def _query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db, timeout=30) as db:
            return list(db.execute(sql, args))

    def task_tries(self) -> list[str]:
        """The task's state and try number, ``"success@2"``, for each task instance."""
        rows = self._query(
            "select state, try_number from task_instance where dag_id = ? order by task_id",
            self.dag_id,
        )
        return [f"{state}@{tries}" for state, tries in rows]

    def xcom_values(self) -> list[Any]:
        """The XCom values the DAG's tasks pushed (decoded JSON)."""
        values = []
        for (raw,) in self._query("select value from xcom where dag_id = ?", self.dag_id):
            try:
                values.append(json.loads(raw))
            except (TypeError, ValueError):
                values.append(raw)
        return values

    def variables(self, *, cache: bool = False) -> dict[str, str]:
        """Airflow Variables: those of the token cache (``cache=True``) or all others."""
        rows = self._query("select key, val from variable")
        return {key: val for key, val in rows if key.startswith(CACHE_VARIABLE_PREFIX) == cache}

    def log_dir(self) -> Path:
        """Where Airflow wrote this DAG's task log files."""
        return self.home / "logs" / f"dag_id={self.dag_id}"


class Pending:
    """A DAG run handed to a driver."""

    def __init__(
        self, scenario: AirflowScenario, driver: Driver, result: Path, offset: int, t0: float
    ) -> None:
        self.scenario = scenario
        self.driver = driver
        self.result = result
        self.offset = offset
        self.t0 = t0

    def wait(self, timeout_s: float = 240) -> DagRunResult:
        """Wait for the run's result; copy its part of the driver's log next to it."""
        deadline = time.monotonic() + timeout_s
        while not self.result.exists():
            if not self.driver.alive():
                raise RuntimeError(f"the dag.test() driver died; see {self.driver.log}")
            if time.monotonic() > deadline:
                self.driver.stop()
                raise TimeoutError(f"dag.test() did not finish within {timeout_s} s")
            time.sleep(0.1)
        seconds = time.monotonic() - self.t0
        state = json.loads(self.result.read_text())["state"]
        return self.scenario.collect(state, seconds, self.driver, self.offset)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with ``start_new_session`` and everything it started."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
