"""The provider on Airflow's CeleryExecutor: two workers that share only Redis and Vault.

A real deployment (tests/airflow/airflow_deployment.py: PostgreSQL metadata DB, api-server,
scheduler, dag-processor, triggerer) runs the CeleryExecutor with a Redis broker (its own
key prefix) and the Celery result backend on PostgreSQL, plus two ``airflow celery worker``
processes set up as two hosts would be: each its own AIRFLOW_HOME and working directory,
TMPDIR, task logs, hostname and a Vault token of the worker role. The token cache is the
provider's multi-host setting: entries in Airflow Variables, the refresh lock in Redis.

One DAG run of 50 mapped page reads (plus a collect and an extract task) is spread over
both workers; one worker's process group is SIGKILLed while it runs tasks; Airflow finds
them by their missing heartbeat and retries them on the other worker. Airflow starts each
task in a process group of its own, so the killed worker's running tasks live on for a
moment without their supervisor, as after a worker crash: they must not ask the vendor
for a token (they once did, when their failed cache read looked like a miss). The run must end
``success`` with every record of the sandbox's data set exactly once in both outputs,
one token request for the whole run, and no secret or token in any log.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from airflow_deployment import AirflowDeployment, free_port

from vendorgate.testing import LeakScanner

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.timeout(1200)]

DAGS = Path(__file__).resolve().parent / "celery_dags"
DAG_ID = "vendorgate_celery_pages"
CONN_ID = "vendorgate_celery"
PAGES = 50
HOSTS = ("celery-host-a", "celery-host-b")
CONCURRENCY = 4
# Airflow 3 fails a running task whose supervisor stopped heartbeating after this long
# ([scheduler] task_instance_heartbeat_timeout, default 300 s), then retries it. 20 s
# failed live tasks too on this shared 2-CPU machine (their heartbeats came late).
HEARTBEAT_TIMEOUT_S = 60
# Each page read waits this long at the sandbox, so a worker holds running tasks to lose.
PAGE_LATENCY_MS = 2500

_HOSTNAME_MODULE = '''"""This worker's host name for Airflow ([core] hostname_callable)."""


def hostname() -> str:
    return {name!r}
'''


class CeleryRun:
    """What the fixture set up, for the test: the deployment, the worker homes, the secrets."""

    def __init__(self, dep: AirflowDeployment, out: Path, client_id: str, secret: str) -> None:
        self.dep = dep
        self.out = out
        self.client_id = client_id
        self.secret = secret
        self.worker_homes: dict[str, Path] = {}
        self.vault_token = ""
        self.broker_prefix = ""


def _redis_client() -> Any:
    import redis

    return redis.Redis.from_url(os.environ["VENDORGATE_TEST_REDIS_URL"])


def _delete_keys(prefix: str) -> None:
    client = _redis_client()
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _worker_env(
    dep: AirflowDeployment, host: str, home: Path, openbao: OpenBaoServer, vault_token: str
) -> dict[str, str]:
    """A worker host's environment: the deployment's settings, its own home, temp dir, name."""
    (home / "tmp").mkdir(parents=True)
    (home / "vg_host.py").write_text(_HOSTNAME_MODULE.format(name=host))
    env = dict(dep.env)
    env.update(
        AIRFLOW_HOME=str(home),
        TMPDIR=str(home / "tmp"),
        PYTHONPATH=os.pathsep.join(p for p in (str(home), env.get("PYTHONPATH")) if p),
        AIRFLOW__CORE__HOSTNAME_CALLABLE="vg_host.hostname",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        # only the workers read the client secret: only they get the worker role's token
        VAULT_ADDR=openbao.url,
        VAULT_TOKEN=vault_token,
    )
    return env


def _wait_ready(dep: AirflowDeployment, names: tuple[str, ...], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name in names:
            if dep.procs[name].poll() is not None:
                raise RuntimeError(f"worker {name} exited: {dep.tail(name)}")
        if all(" ready." in dep.tail(name, 100_000) for name in names):
            return
        time.sleep(1)
    raise RuntimeError(f"workers not ready after {timeout_s:.0f} s: {dep.tail(names[0])}")


@pytest.fixture(scope="module")
def celery(
    vendor_sandbox: VendorSandbox, openbao: OpenBaoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryRun]:
    """The CeleryExecutor deployment, two worker hosts, a sandbox client of its own."""
    tag = secrets.token_hex(4)
    client_id = f"celery-{tag}"
    secret = secrets.token_urlsafe(32)
    vendor_sandbox.add_client("lonewolf", client_id, client_secret=secret)
    kv_path = f"vendorgate/celery-{tag}/lonewolf"
    policy = f"vendorgate-celery-worker-{tag}"
    bao = openbao.client()
    bao.secrets.kv.v2.create_or_update_secret(
        path=kv_path, secret={"client_secret": secret}, mount_point="secret"
    )
    # the worker role reads the credentials and nothing else (the cache is not in Vault)
    openbao.write_policy(policy, f'path "secret/data/{kv_path}" {{ capabilities = ["read"] }}')
    vault_token = bao.auth.token.create(policies=[policy], ttl="1h", renewable=False)["auth"][
        "client_token"
    ]
    redis_url = os.environ["VENDORGATE_TEST_REDIS_URL"]
    broker_prefix = f"vendorgate-test-celery-{tag}:"
    out = tmp_path_factory.mktemp("celery-out")
    size = vendor_sandbox.dataset_size
    dep = AirflowDeployment(
        dags_folder=DAGS,
        db_prefix="airflow_celery",
        extra_env={
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(CONCURRENCY * len(HOSTS)),
            "AIRFLOW__CELERY__BROKER_URL": redis_url,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": broker_prefix,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CONCURRENCY),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
            # a safety net for a task whose broker message died with its worker
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
            "VENDORGATE_OUTPUT_DIR": str(out),
            "VENDORGATE_CELERY_PAGE_SIZE": str(math.ceil(size / PAGES)),
        },
    )
    dep.env["AIRFLOW__CELERY__RESULT_BACKEND"] = (
        f"db+postgresql+psycopg2://postgres@127.0.0.1:5432/{dep.db}"
    )
    run = CeleryRun(dep, out, client_id, secret)
    run.vault_token = vault_token
    run.broker_prefix = broker_prefix
    try:
        with dep:
            for host in HOSTS:
                home = Path(tempfile.mkdtemp(prefix=f"airflow-{host}-"))
                run.worker_homes[host] = home
                env = _worker_env(dep, host, home, openbao, vault_token)
                dep.add_process(
                    host,
                    ["celery", "worker", "--celery-hostname", f"{host}@%h", "--skip-serve-logs"],
                    env=env,
                    home=home,
                )
            _wait_ready(dep, HOSTS)
            creds = vendor_sandbox.demo_credentials("lonewolf")
            conn = {
                "conn_type": "vendorgate",
                "host": vendor_sandbox.api_url("lonewolf"),
                "login": client_id,
                "extra": {
                    "preset": "lonewolf",
                    "auth_url": creds["token_url"],
                    "client_secret_ref": f"vault:secret/{kv_path}#client_secret",
                    # several hosts: tokens in Airflow Variables, the refresh lock in Redis
                    "cache": "airflow-variable",
                    "cache_lock": "redis",
                    "cache_url": redis_url,
                },
            }
            dep.cli("connections", "add", CONN_ID, "--conn-json", json.dumps(conn))
            yield run
    finally:
        vendor_sandbox.clear_faults()
        _delete_keys(broker_prefix)
        with contextlib.suppress(Exception):
            bao.auth.token.revoke(vault_token)
        with contextlib.suppress(Exception):
            bao.secrets.kv.v2.delete_metadata_and_all_versions(path=kv_path, mount_point="secret")
        with contextlib.suppress(Exception):
            bao.sys.delete_policy(policy)
    assert dep.leftovers() == []
    leftover_keys = list(_redis_client().scan_iter(match=f"{broker_prefix}*"))
    assert leftover_keys == [], "the broker's Redis keys were removed"


def _states(dep: AirflowDeployment, run_id: str) -> list[dict[str, Any]]:
    # the api-server also serves every task's Execution API calls: on a loaded machine a
    # read can time out, which is no reason to fail the run
    for attempt in range(5):
        try:
            reply = dep.api(
                "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 200}
            )
            reply.raise_for_status()
            return list(reply.json()["task_instances"])
        except httpx.TransportError:
            if attempt == 4:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def _tries(
    dep: AirflowDeployment, run_id: str, task_id: str, map_index: int
) -> list[dict[str, Any]]:
    reply = dep.api(
        "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
    )
    reply.raise_for_status()
    return list(reply.json()["task_instances"])


def _other_failures(run: CeleryRun, pages: list[dict[str, Any]], lost: list[int]) -> list[str]:
    """The last error line of each failed try of a task that was not lost with the kill."""
    found = []
    for t in pages:
        index, last = t["map_index"], t["try_number"]
        tries = range(1, last) if index not in lost else ()
        for attempt in tries:
            for home in run.worker_homes.values():
                for log in (home / "logs").rglob(f"map_index={index}/attempt={attempt}.log"):
                    errors = [
                        line
                        for line in log.read_text(errors="replace").splitlines()
                        if '"level":"error"' in line or "error" in line.lower()
                    ]
                    lines = errors or log.read_text(errors="replace").splitlines() or ["?"]
                    last_error = lines[-1][:300]
                    found.append(f"map_index={index} attempt={attempt}: {last_error}")
    return found


def _cache_log_lines(run: CeleryRun) -> str:
    """Why tasks asked the vendor: the token cache's lines in the task logs, and the
    api-server's failed Variable reads (which Airflow answers as "not found")."""
    lines = []
    for host, home in run.worker_homes.items():
        for log in sorted((home / "logs").rglob("*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if any(
                    word in line
                    for word in ("token cache", "vendorgate.tokens", "API server", "supervisor")
                ):
                    where = f"{log.parent.parent.name}/{log.parent.name}/{log.name}"
                    lines.append(f"{host} {where}: {line[:400]}")
    server = run.dep.tail("api-server", 2_000_000).splitlines()
    failed_reads = [line for line in server if "Unable to retrieve variable" in line]
    lines += [f"api-server: {line[:400]}" for line in failed_reads]
    return "\n".join(lines[-60:])


def _ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def test_two_workers_one_killed_every_record_once_one_token(
    celery: CeleryRun, vendor_sandbox: VendorSandbox, openbao: OpenBaoServer
) -> None:
    """50 mapped tasks on two Celery hosts: one token request, a killed worker loses nothing."""
    dep = celery.dep
    victim, survivor = HOSTS
    vendor_sandbox.reset()
    vendor_sandbox.set_faults(path="/lonewolf/api/items", latency_ms=PAGE_LATENCY_MS)
    dep.wait_for_dag(DAG_ID)
    run_id = "test__celery"
    started = time.monotonic()
    dep.cli("dags", "trigger", DAG_ID, "--run-id", run_id)

    # kill the victim once both hosts finished tasks and the victim runs some
    lost: list[int] = []
    deadline = time.monotonic() + 300
    while not lost:
        assert time.monotonic() < deadline, f"no moment to kill {victim}: {dep.tail('scheduler')}"
        pages = [t for t in _states(dep, run_id) if t["task_id"] == "read_page"]
        done = Counter(t["hostname"] for t in pages if t["state"] == "success")
        running = [t for t in pages if t["state"] == "running" and t["hostname"] == victim]
        if done[victim] >= 1 and done[survivor] >= 1 and len(running) >= 2:
            dep.kill_group(victim)
            killed_at = time.monotonic()
            lost = [
                t["map_index"]
                for t in _states(dep, run_id)
                if t["task_id"] == "read_page"
                and t["state"] == "running"
                and t["hostname"] == victim
            ]
            assert lost, "the victim still ran tasks when it was killed"
        else:
            time.sleep(0.5)

    state = dep.wait_for_run(DAG_ID, run_id, timeout_s=400)
    duration_s = time.monotonic() - started
    recovery_s = time.monotonic() - killed_at
    assert state == "success", dep.tail("scheduler") + dep.tail(survivor)
    tasks = _states(dep, run_id)
    assert {t["state"] for t in tasks} == {"success"}
    pages = [t for t in tasks if t["task_id"] == "read_page"]
    assert len(pages) == PAGES
    # both hosts ran tasks to the end (the victim's successes before it died keep its name)
    final_hosts = Counter(t["hostname"] for t in pages)
    assert final_hosts[victim] >= 1
    assert final_hosts[survivor] >= 1
    # every task lost with the victim ran again, on the survivor, and succeeded
    for index in lost:
        tries = sorted(_tries(dep, run_id, "read_page", index), key=lambda t: t["try_number"])
        assert len(tries) >= 2, tries
        assert any(t["hostname"] == victim for t in tries[:-1]), tries
        assert tries[-1]["hostname"] == survivor
        assert tries[-1]["state"] == "success"
    # tries that failed for another reason than the kill (a busy machine), for the report
    other_failures = _other_failures(celery, pages, lost)

    # every record exactly once, in both outputs
    expected = list(range(vendor_sandbox.dataset_size))
    assert sorted(_ids(celery.out / "pages.jsonl")) == expected
    assert sorted(_ids(celery.out / "items.jsonl")) == expected

    # one token request for the whole run (lonewolf tokens live 24 h), both hosts included
    token_requests = vendor_sandbox.counters().tokens(vendor="lonewolf", client_id=celery.client_id)
    assert token_requests == 1, _cache_log_lines(celery)

    # no secret or token in any log either host or the central processes wrote
    scanner = LeakScanner(
        secrets={
            "client_secret": celery.secret,
            "vault_worker_token": celery.vault_token,
            "vault_root_token": openbao.root_token,
        },
        tokens=vendor_sandbox.issued_tokens("lonewolf", client_id=celery.client_id),
    )
    for host, home in celery.worker_homes.items():
        task_logs = [p for p in (home / "logs").rglob("*") if p.is_file()]
        assert any("task_id=read_page" in str(p) for p in task_logs), f"{host} wrote task logs"
        scanner.scan_tree(home)
    scanner.scan_tree(dep.home)
    scanner.scan_tree(celery.out)
    scanner.assert_clean()

    figures = {
        "tasks": len(tasks),
        "mapped": len(pages),
        "tasks_per_host_final": dict(final_hosts),
        "lost_with_killed_worker": len(lost),
        "retried": sum(1 for t in pages if t["try_number"] > 1),
        "tries_failed_otherwise": len(other_failures),
        "records": len(expected),
        "token_requests": token_requests,
        "run_s": round(duration_s, 1),
        "kill_to_success_s": round(recovery_s, 1),
    }
    print(f"\ncelery deployment figures: {json.dumps(figures)}")
    for line in other_failures:
        print(f"  not the kill: {line}")
