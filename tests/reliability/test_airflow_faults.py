"""Fault matrix through the Airflow operators: each scenario runs a one-task DAG
(``VendorExtractOperator`` or ``VendorApiOperator``) with ``dag.test()`` against the sandbox.

What the operator adds over the core rows, and what each row checks: the task's state and
try number (Airflow retries every vendorgate error the same way: none is fail-fast), the
XCom value (path and counts, or the JSON reply), the task log (the named error or the
warning), and the leak scan over the task logs, the XCom values and every Variable other
than the token cache's entries.

The DAG runs in a long-lived ``dag.test()`` process (see ``airflow_runs.py``): Airflow's
start costs a minute or more on a busy host, once; each scenario then takes seconds.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if os.environ.get("VENDORGATE_TEST_ENV") == "airflow":
    # The airflow environment owns these tests: a broken airflow install must fail, not skip.
    import airflow.sdk  # noqa: F401
else:
    # airflow.sdk, not airflow: a test directory named airflow can pass for the package.
    pytest.importorskip(
        "airflow.sdk", reason="needs the 'airflow' extra (the .venv-airflow environment)"
    )

from airflow_runs import AirflowScenario, DagRunResult, Driver, migrate, write_dag_folder
from reliability_helpers import free_port, read_ids, redis_available

from vendorgate.http import Checkpoint, Output
from vendorgate.testing import OpenBaoServer

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.airflow,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

TOKEN_PATH = "/lonewolf/oauth/token"
API = "/lonewolf/api/*"


class Drivers:
    """The module's warm ``dag.test()`` processes (started on demand, killed at the end)."""

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env = env
        self.work = work
        self.all: list[Driver] = []

    def warm(self, n: int = 1) -> list[Driver]:
        """``n`` live drivers that have run a DAG already (started and warmed together)."""
        live = [d for d in self.all if d.alive()]
        new = [
            Driver(self.env, self.work / f"driver-{len(self.all) + i}")
            for i in range(n - len(live))
        ]
        self.all += new
        pending = []
        for driver in new:
            dag_id = f"vendorgate_reliab_warmup_{uuid.uuid4().hex[:8]}"
            result = driver.submit(
                Path(self.env["AIRFLOW__CORE__DAGS_FOLDER"]) / "vendorgate_reliab_dag.py",
                {"VG_RELIAB_DAG_ID": dag_id, "VG_RELIAB_KIND": "noop"},
                dag_id,
                "2026-01-01T00:00:00+00:00",
            )
            pending.append((driver, result))
        deadline = time.monotonic() + 480
        for driver, result in pending:
            while not result.exists():
                assert driver.alive(), f"a dag.test() driver died warming up: {driver.log}"
                assert time.monotonic() < deadline, "dag.test() drivers did not warm up"
                time.sleep(0.2)
        return [d for d in self.all if d.alive()][:n]

    def stop(self) -> None:
        for driver in self.all:
            driver.stop()


@pytest.fixture(scope="module")
def airflow_home() -> Iterator[dict[str, str]]:
    """A migrated, temporary AIRFLOW_HOME (SQLite) and its DAG folder; removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="vendorgate-matrixaf-airflow-"))
    try:
        dags = root / "dags"
        write_dag_folder(dags)
        yield migrate(root / "home", dags)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def drivers(airflow_home: dict[str, str]) -> Iterator[Drivers]:
    pool = Drivers(airflow_home, Path(airflow_home["AIRFLOW_HOME"]).parent / "drivers")
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def af(run, airflow_home: dict[str, str], drivers: Drivers) -> Iterator[AirflowScenario]:  # type: ignore[no-untyped-def]
    """This scenario's DAG (its own DAG id) with a connection for the scenario's client.

    On teardown the XCom values, the Variables other than the token cache's and Airflow's
    log folder go to the leak scan (the task logs themselves are in the scenario's
    directory, which the ``run`` fixture scans).
    """
    work = run.tmp_path / "airflow"
    work.mkdir()
    scenario = AirflowScenario(
        airflow_home,
        f"vendorgate_reliab_{uuid.uuid4().hex[:10]}",
        work,
        lambda: drivers.warm(1)[0],
    )
    scenario.conn = {
        "conn_type": "vendorgate",
        "host": run.sandbox.api_url("lonewolf"),
        "login": run.client_id,
        "password": run.client_secret.reveal(),
        "extra": {
            "preset": "lonewolf",
            "auth_url": run.sandbox.token_url("lonewolf"),
            "audience": run.sandbox.audience("lonewolf"),
            "timeout_s": 3,
        },
    }
    drivers.warm(1)  # Airflow's start is not the scenario's time
    run.restart_clock()
    yield scenario
    run.scanner.scan_mapping(scenario.xcom_values(), f"XCom of {scenario.dag_id}")
    run.scanner.scan_mapping(scenario.variables(), "Airflow Variables (not the token cache)")
    if scenario.log_dir().exists():
        run.scanner.scan_tree(scenario.log_dir())
    for driver in drivers.all:  # everything the task processes printed, this scenario or not
        run.scanner.scan_file(driver.log)


def _extract_ok(run, af: AirflowScenario, result: DagRunResult, *, tries: int = 1) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The run succeeded in ``tries`` tries; XCom has the path and counts; every record once."""
    total = run.sandbox.dataset_size
    assert result.state == "success", result.text[-4000:]
    assert result.tries == [f"success@{tries}"], result.tries
    (xcom,) = result.xcom
    assert xcom["output"] == str(af.output)
    assert xcom["records"] == total
    assert read_ids(af.output) == list(range(total))  # none lost, none twice
    assert "records" in result.text  # the operator's summary line is in the task log
    return xcom  # type: ignore[no-any-return]


def _succeeded(
    run, af: AirflowScenario, result: DagRunResult, note: str = "", tries: int = 1
) -> None:  # type: ignore[no-untyped-def]
    xcom = _extract_ok(run, af, result, tries=tries)
    extra = f"; {note}" if note else ""
    run.succeeded(
        xcom["records"],
        f"task success@{tries}, XCom {{records: {xcom['records']}, pages: {xcom['pages']}, "
        f"resumed: {str(xcom['resumed']).lower()}}}{extra}",
    )


def _failed(run, af: AirflowScenario, result: DagRunResult, error: str, *, tries: int) -> None:  # type: ignore[no-untyped-def]
    """The run failed after ``tries`` tries with ``error`` in the task log; no XCom, no file."""
    assert result.state == "failed", result.text[-4000:]
    assert result.tries == [f"failed@{tries}"], result.tries
    assert error in result.text, result.text[-4000:]
    assert result.xcom == []
    assert not af.output.exists()
    run.measured = (
        f"task failed@{tries} after {result.seconds:.1f} s, {error} in the task log, no XCom, "
        f"{run.tokens_requested()} token request(s)"
    )


# -- token endpoint ------------------------------------------------------------------------


@pytest.mark.scenario(
    "Airflow extract: token endpoint down, retries=1",
    expect="task failed after 2 tries (Airflow retries it), TokenTransportError in the log",
)
def test_af_token_endpoint_down(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """An unreachable token endpoint fails the task; Airflow retries it once, then fails."""
    af.conn["extra"]["auth_url"] = f"http://127.0.0.1:{free_port()}/lonewolf/oauth/token"
    af.retries = 1
    result = af.run()
    _failed(run, af, result, "TokenTransportError", tries=2)
    assert result.seconds < 60


@pytest.mark.scenario("Airflow extract: token endpoint 503 x2", expect="task success@1")
def test_af_token_endpoint_5xx_burst(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """Token 503s are retried inside the task: the task succeeds at its first try."""
    run.sandbox.set_faults(path=TOKEN_PATH, status=503, status_burst=2)
    _succeeded(run, af, af.run())
    assert run.tokens_requested() == 1


@pytest.mark.scenario(
    "Airflow extract: token endpoint answers HTML (garbage)",
    expect="task failed@1, TokenResponseError in the log, no XCom",
)
def test_af_token_endpoint_garbage(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """An HTML token reply fails the task with TokenResponseError."""
    run.sandbox.set_faults(path=TOKEN_PATH, html_token_endpoint=True)
    _failed(run, af, af.run(), "TokenResponseError", tries=1)


@pytest.mark.scenario(
    "Airflow extract: token endpoint 429 x2 with Retry-After: 1", expect="task success@1"
)
def test_af_token_endpoint_429(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """A rate-limited token endpoint is waited for inside the task."""
    run.sandbox.set_faults(path=TOKEN_PATH, status=429, status_burst=2, retry_after_s=1)
    result = af.run()
    _succeeded(run, af, result)
    assert run.sandbox.counters().rate_limited == 2


# -- vendor API ----------------------------------------------------------------------------


@pytest.mark.scenario(
    "Airflow extract: API 429 storm (first 3) with Retry-After: 1",
    expect="task success@1 after the waits",
)
def test_af_429_storm(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """A 429 storm with Retry-After is waited out inside the task; XCom has the counts."""
    run.sandbox.set_faults(path=API, status=429, status_burst=3, retry_after_s=1)
    result = af.run()
    _succeeded(run, af, result)
    assert run.sandbox.counters().rate_limited == 3
    assert result.seconds >= 2


@pytest.mark.scenario(
    "Airflow API operator: API 429 storm (first 3) with Retry-After: 1",
    expect="task success@1, the JSON reply in XCom",
)
def test_af_api_operator_429_storm(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """VendorApiOperator waits out the 429s and pushes the reply (5 items) to XCom."""
    run.sandbox.set_faults(path=API, status=429, status_burst=3, retry_after_s=1)
    af.kind = "api"
    result = af.run()
    assert result.state == "success", result.text[-4000:]
    assert result.tries == ["success@1"]
    (reply,) = result.xcom
    assert [item["id"] for item in reply["items"]] == [0, 1, 2, 3, 4]
    assert run.sandbox.counters().rate_limited == 3
    run.succeeded(5, "task success@1, XCom = the reply (5 items)")


@pytest.mark.scenario("Airflow extract: API 5xx burst (502 x4)", expect="task success@1")
def test_af_5xx_burst(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """A burst of 502s is retried inside the task."""
    run.sandbox.set_faults(path=API, status=502, status_burst=4)
    _succeeded(run, af, af.run())


@pytest.mark.scenario(
    "Airflow extract: API connection reset mid-body (every 3rd)", expect="task success@1"
)
def test_af_reset_mid_body(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """Bodies cut off mid-way are retried; no partial page reaches the file."""
    run.sandbox.set_faults(path=API, reset_every=3, reset_mid_body=True)
    _succeeded(run, af, af.run())
    assert run.sandbox.counters().resets >= 3


@pytest.mark.scenario("Airflow extract: API truncated JSON (every 3rd)", expect="task success@1")
def test_af_truncated_json(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """Truncated JSON bodies are retried as bad replies."""
    run.sandbox.set_faults(path=API, truncate_every=3)
    _succeeded(run, af, af.run())
    assert run.sandbox.counters().truncated >= 3


def _when_checkpoint(
    af: AirflowScenario, records: int, action: Callable[[], object]
) -> threading.Thread:
    """Run ``action`` once the extract's checkpoint has ``records`` records (in a thread)."""
    checkpoint = Output(path=af.output).checkpoint_file

    def watch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if checkpoint.exists() and Checkpoint.load(checkpoint).records >= records:
                    action()
                    return
            except (OSError, ValueError):
                pass  # being replaced at this moment
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.scenario(
    "Airflow extract: access token revoked mid-run",
    expect="task success@1, one extra token request (the Variable cache entry replaced)",
)
def test_af_token_revoked_mid_run(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """A token revoked half-way is replaced once inside the task; the cache gets the new one."""
    run.sandbox.set_faults(path=API, latency_ms=40)
    revoked: list[int] = []
    watcher = _when_checkpoint(
        af, 300, lambda: revoked.append(run.sandbox.revoke_client("lonewolf", run.client_id))
    )
    result = af.run()
    watcher.join(5)
    assert revoked
    assert revoked[0] >= 1
    _succeeded(run, af, result)
    assert run.tokens_requested() == 2


@pytest.mark.scenario(
    "Airflow extract: API 400 mid-extract, retries=1",
    expect="try 1 fails (APIError), Airflow's retry resumes from the checkpoint; every record once",
)
def test_af_failed_try_then_airflow_retry_resumes(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """Airflow's own retry of the task continues the pull where the failed try stopped."""
    run.sandbox.set_faults(path=API, latency_ms=20)
    watcher = _when_checkpoint(
        af,
        300,
        lambda: run.sandbox.set_faults(path=API, status=400, status_burst=1, latency_ms=20),
    )
    af.retries = 1
    result = af.run()
    watcher.join(5)
    assert "APIError" in result.text
    xcom = _extract_ok(run, af, result, tries=2)
    assert xcom["resumed"] is True
    _succeeded(run, af, result, "try 1 failed with APIError (400)", tries=2)


# -- Vault ---------------------------------------------------------------------------------


def _vault_conn(af: AirflowScenario, bao: OpenBaoServer, run, **login: str) -> None:  # type: ignore[no-untyped-def]
    """Store the client secret in Vault; the connection reads it from there."""
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"rel/{run.client_id}", secret={"client_secret": run.client_secret.reveal()}
    )
    del af.conn["password"]
    af.conn["extra"].update(
        client_secret_ref=f"vault:secret/rel/{run.client_id}#client_secret",
        vault_addr=bao.url,
        **login,
    )


@pytest.mark.scenario(
    "Airflow extract: Vault sealed",
    expect="task failed@1, VaultUnavailableError in the log, no vendor request",
)
def test_af_vault_sealed(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """A sealed Vault fails the task with VaultUnavailableError; the vendor is not asked."""
    with OpenBaoServer() as sealed:
        run.scanner.add(secrets={"vault_root_token": sealed.root_token})
        _vault_conn(af, sealed, run, vault_auth_method="token", vault_token=sealed.root_token)
        sealed.client().sys.seal()
        result = af.run()
    _failed(run, af, result, "VaultUnavailableError", tries=1)
    assert run.tokens_requested() == 0


@pytest.mark.scenario(
    "Airflow extract: Vault permission denied, retries=1",
    expect=(
        "task failed after 2 tries (not fail-fast: Airflow retries it), VaultPermissionError "
        "naming the path, no vendor request"
    ),
)
def test_af_vault_permission_denied(run, af: AirflowScenario, openbao: OpenBaoServer) -> None:  # type: ignore[no-untyped-def]
    """An AppRole whose policy misses the secret fails the task, naming the path."""
    run.scanner.add(secrets={"vault_root_token": openbao.root_token})
    policy = 'path "secret/data/rel/somebody-else" { capabilities = ["read"] }'
    role_id, secret_id = openbao.create_approle(run.client_id, policy_hcl=policy)
    run.scanner.add(secrets={"approle_secret_id": secret_id})
    _vault_conn(
        af,
        openbao,
        run,
        vault_auth_method="approle",
        vault_role_id=role_id,
        vault_secret_id=secret_id,
    )
    af.retries = 1
    result = af.run()
    _failed(run, af, result, "VaultPermissionError", tries=2)
    assert f"rel/{run.client_id}" in result.text
    assert run.tokens_requested() == 0


# -- the shared cache ----------------------------------------------------------------------


@pytest.mark.scenario(
    "Airflow extract: Variable token cache down (variable table gone)",
    expect="task success@1, the cache bypassed with a warning in the log",
)
def test_af_variable_cache_down(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """With the Variable store failing (the metadata DB's variable table renamed away), the
    cache degrades: the task still pulls everything, with one token request."""
    with sqlite3.connect(af.db, timeout=30) as db:
        db.execute("alter table variable rename to variable_down_matrixaf")
    try:
        result = af.run()
    finally:
        with sqlite3.connect(af.db, timeout=30) as db:
            db.execute("alter table variable_down_matrixaf rename to variable")
    assert "token cache" in result.text
    _succeeded(run, af, result, "cache warning in the task log")
    assert run.tokens_requested() == 1


@pytest.mark.skipif(not redis_available(), reason="no Redis at 127.0.0.1:6379")
@pytest.mark.scenario(
    "Airflow extract: Redis token cache down",
    expect="task success@1, the cache bypassed with a warning in the log",
)
def test_af_redis_cache_down(run, af: AirflowScenario) -> None:  # type: ignore[no-untyped-def]
    """A Redis cache nobody listens on is bypassed; the task pulls everything."""
    af.conn["extra"].update(cache="redis", cache_url=f"redis://127.0.0.1:{free_port()}/0")
    result = af.run()
    assert "token cache" in result.text
    _succeeded(run, af, result, "cache warning in the task log")


# -- processes -----------------------------------------------------------------------------


@pytest.mark.scenario(
    "Airflow extract: two DAG runs of the same extract overlapping",
    expect="second run's task failed@1 with OutputBusyError at once; the first run succeeds",
)
def test_af_two_runs_overlapping(run, af: AirflowScenario, drivers: Drivers) -> None:  # type: ignore[no-untyped-def]
    """Two runs (two processes) of one DAG writing one output: the second is refused."""
    first_driver, second_driver = drivers.warm(2)
    # Slow pages keep the first run busy until the second one has been refused.
    run.sandbox.set_faults(path=API, latency_ms=1000)
    first = af.start(first_driver)
    checkpoint = Output(path=af.output).checkpoint_file
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert time.monotonic() < deadline, "the first run never started its pull"
        time.sleep(0.02)
    second_af = AirflowScenario(af.base_env, af.dag_id, af.work, lambda: second_driver)
    second_af.conn, second_af.output, second_af.runs = af.conn, af.output, 10
    second_af.logical_date = "2026-01-02T00:00:00+00:00"
    second = second_af.start(second_driver).wait()
    assert not first.result.exists(), "the first run ended before the second started"
    run.sandbox.clear_faults()
    first_result = first.wait()
    assert first_result.state == "success", first_result.text[-4000:]
    assert second.state == "failed", second.text[-4000:]
    assert "OutputBusyError" in second.text
    assert sorted(first_result.tries) == ["failed@1", "success@1"], first_result.tries
    (xcom,) = first_result.xcom  # the first run's only: the refused run pushed nothing
    assert xcom["records"] == run.sandbox.dataset_size
    assert read_ids(af.output) == list(range(run.sandbox.dataset_size))
    run.measured = (
        f"second run: task failed@1 with OutputBusyError after {second.seconds:.1f} s; "
        f"first run: success@1, {xcom['records']} records once each"
    )


@pytest.mark.scenario(
    "Airflow extract: task process SIGKILLed mid-extract, the task re-run",
    expect=(
        "the re-run (same DAG run, task cleared and run again) resumes from the checkpoint; "
        "every record once"
    ),
)
def test_af_task_process_killed_then_rerun(run, af: AirflowScenario, drivers: Drivers) -> None:  # type: ignore[no-untyped-def]
    """A task process killed half-way leaves a checkpoint; re-running the task resumes it."""
    victim, survivor = drivers.warm(2)
    run.sandbox.set_faults(path=API, latency_ms=40)
    pending = af.start(victim)
    checkpoint = Output(path=af.output).checkpoint_file
    deadline = time.monotonic() + 120
    while not (checkpoint.exists() and Checkpoint.load(checkpoint).records >= 300):
        assert time.monotonic() < deadline, "the task never got half-way"
        time.sleep(0.02)
    victim.stop()  # SIGKILL: the task process dies mid-page
    killed = af.collect(None, time.monotonic() - pending.t0, victim, pending.offset)
    assert killed.tries == ["running@1"], killed.tries
    assert not af.output.exists()
    run.sandbox.clear_faults()
    run.restart_clock()
    result = af.start(survivor).wait()  # the same logical date: the same DAG run again
    # dag.test() clears the killed task instance and runs it again: try 1 of the cleared
    # instance (an Airflow retry of the same instance is the "API 400" row's success@2).
    xcom = _extract_ok(run, af, result, tries=1)
    assert xcom["resumed"] is True
    _succeeded(run, af, result, "re-run on another dag.test() process after the SIGKILL")
