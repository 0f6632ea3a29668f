"""A real Airflow 3 deployment for tests: PostgreSQL metadata DB and four processes.

``AirflowDeployment`` creates its own PostgreSQL database (``airflow_<random>``) on the
machine's server, migrates it, and starts ``api-server``, ``scheduler`` (LocalExecutor,
parallelism 8), ``dag-processor`` and ``triggerer``, each in its own process group with its
output in ``<home>/proc-logs/<name>.log``. ``start()`` waits for each component's health
(the health endpoint answers 200 even while one is unhealthy: every status is read).
``stop()`` (also on a failed start) terminates each process group by its PID, kills what
is left after a grace period, drops the database and removes the temporary home.

``extra_env`` overrides any of the defaults (``AIRFLOW__CORE__EXECUTOR`` for the
CeleryExecutor, say). ``add_process()`` starts more processes (Celery workers) in their
own process groups, working directories and homes, which ``stop()`` ends and removes too.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _pg(dbname: str = "postgres") -> Any:
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, **PG)
    conn.autocommit = True
    return conn


class AirflowDeployment:
    """Four Airflow processes on a fresh PostgreSQL database (see the module docstring)."""

    def __init__(
        self,
        *,
        dags_folder: Path,
        extra_env: dict[str, str] | None = None,
        db_prefix: str = "airflow",
    ) -> None:
        self.dags_folder = dags_folder
        self.home = Path(tempfile.mkdtemp(prefix="airflow-deploy-"))
        self.db = f"{db_prefix}_{secrets.token_hex(4)}"
        self.api_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.proc_logs: dict[str, Path] = {}
        # directories of processes started by add_process (their "hosts"), removed by stop()
        self.extra_dirs: list[Path] = []
        self._db_created = False
        bin_dir = Path(sys.executable).parent
        self.airflow = str(bin_dir / "airflow")
        self.env = dict(
            os.environ,
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="8",
            AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="8",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__FERNET_KEY=self.fernet_key,
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__CORE__AUTH_MANAGER=(
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(64),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=(
                f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{self.db}"
            ),
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="2",
        )
        self.env.update(extra_env or {})
        self.env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD", None)

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 240.0) -> AirflowDeployment:
        try:
            with contextlib.closing(_pg()) as conn:
                conn.cursor().execute(f'create database "{self.db}"')
            self._db_created = True
            self.cli("db", "migrate", timeout_s=300)
            logs = self.home / "proc-logs"
            logs.mkdir()
            for name in COMPONENTS:
                self._popen(name, [self.airflow, name], self.env, self.home, logs / f"{name}.log")
            self.wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _popen(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        with open(log, "wb") as out:
            self.procs[name] = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.proc_logs[name] = log

    def add_process(
        self, name: str, args: list[str], *, env: dict[str, str], home: Path
    ) -> subprocess.Popen[bytes]:
        """Start ``airflow ARGS`` in its own process group, in ``home`` (removed by stop()).

        ``env`` is the whole environment of the process (start from ``self.env``); its
        output goes to ``home/proc-logs/NAME.log``.
        """
        if home not in self.extra_dirs:
            self.extra_dirs.append(home)
        logs = home / "proc-logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._popen(name, [self.airflow, *args], env, home, logs / f"{name}.log")
        return self.procs[name]

    def kill_group(self, name: str) -> None:
        """SIGKILL the process group of ``name`` at once (a host that dies)."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}: {self.tail(name)}")
            try:
                last = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                states = {
                    part: (last.get(part) or {}).get("status")
                    for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                }
                if all(s == "healthy" for s in states.values()):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise RuntimeError(f"deployment not healthy after {timeout_s:.0f} s: {last}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # the group may outlive its leader (task runners, log servers): kill all of it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        if self._db_created:
            with contextlib.closing(_pg()) as conn:
                cur = conn.cursor()
                cur.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
                    (self.db,),
                )
                cur.execute(f'drop database if exists "{self.db}"')
            self._db_created = False
        shutil.rmtree(self.home, ignore_errors=True)
        for directory in self.extra_dirs:
            shutil.rmtree(directory, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """What the deployment left behind: live process groups, the database, the home."""
        found = []
        for name, proc in self.procs.items():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, 0)
                found.append(f"process group of {name} ({proc.pid})")
        with contextlib.closing(_pg()) as conn:
            cur = conn.cursor()
            cur.execute("select 1 from pg_database where datname = %s", (self.db,))
            if cur.fetchone():
                found.append(f"database {self.db}")
        found += [f"directory {d}" for d in (self.home, *self.extra_dirs) if d.exists()]
        return found

    def __enter__(self) -> AirflowDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers
    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.proc_logs.get(name, self.home / "proc-logs" / f"{name}.log")
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def cli(self, *args: str, timeout_s: float = 180) -> str:
        run = subprocess.run(
            [self.airflow, *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
        if run.returncode != 0:
            raise RuntimeError(
                f"airflow {args[0]} failed: {run.stdout[-2000:]}{run.stderr[-2000:]}"
            )
        return run.stdout

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.api("GET", f"/dags/{dag_id}").status_code == 200:
                return
            time.sleep(2)
        raise RuntimeError(
            f"DAG {dag_id} not parsed after {timeout_s:.0f} s: {self.tail('dag-processor')}"
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 400) -> str:
        deadline = time.monotonic() + timeout_s
        state = None
        while time.monotonic() < deadline:
            try:
                reply = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            except httpx.TransportError:  # a busy api-server: ask again
                time.sleep(2)
                continue
            if reply.status_code == 200:
                state = reply.json()["state"]
                if state in ("success", "failed"):
                    return str(state)
            time.sleep(2)
        raise RuntimeError(f"run {run_id} of {dag_id} still {state} after {timeout_s:.0f} s")

    def task_states(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        reply = self.api(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}
        )
        reply.raise_for_status()
        return list(reply.json()["task_instances"])

    def log_text(self) -> str:
        """Every log the deployment wrote: task, trigger, processor and process logs."""
        parts = []
        for path in sorted(self.home.rglob("*")):
            if path.is_file() and (path.suffix in (".log", ".json") or "logs" in path.parts):
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)
