"""The Airflow step of ``vendorgate demo``: the mapped example DAG, end to end.

Runs ``dags_examples/vendorgate_mapped_pages.py`` with Airflow's ``dag.test()`` in a child
process, on a temporary Airflow home (SQLite), against the demo's vendor sandbox and
OpenBao: the connection's client secret is a Vault reference, the worker logs in with the
demo's AppRole. Reports where the output landed and how many token requests the sandbox
saw for the 24 mapped tasks and the extract.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vendorgate.testing._demo import DemoContext
    from vendorgate.testing.sandbox import VendorSandbox

__all__ = ["AirflowDemoResult", "airflow_demo_step", "example_dags_folder", "run_airflow_step"]

_DAG_FILE = "vendorgate_mapped_pages.py"


@dataclass(frozen=True)
class AirflowDemoResult:
    """What the Airflow step did."""

    ok: bool
    output: Path
    records: int
    token_requests: int
    seconds: float
    detail: str = ""


def example_dags_folder() -> Path | None:
    """The repository's ``dags_examples/`` (present in a clone, not in a wheel)."""
    folder = Path(__file__).resolve().parents[3] / "dags_examples"
    return folder if (folder / _DAG_FILE).exists() else None


def run_airflow_step(
    sandbox: VendorSandbox,
    *,
    vault_addr: str,
    role_id: str,
    secret_id: str,
    kv_prefix: str,
    workdir: Path,
    timeout_s: float = 900.0,
) -> AirflowDemoResult:
    """Run the mapped DAG once with ``dag.test()``; return what it produced."""
    import time

    from vendorgate.airflow._sandbox import sandbox_connection

    started = time.monotonic()
    folder = example_dags_folder()
    output = workdir / "airflow-output" / "items.jsonl"
    if folder is None:
        return AirflowDemoResult(False, output, 0, 0, 0.0, "dags_examples/ not found")
    home = workdir / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    conn = sandbox_connection(
        sandbox, "lonewolf", vault_addr=vault_addr, kv_prefix=kv_prefix, cache_dir=str(home)
    )
    conn["extra"].update(vault_auth_method="approle", vault_role_id=role_id)
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        AIRFLOW_CONN_VENDORGATE_EXAMPLE=json.dumps(conn),
        VAULT_SECRET_ID=secret_id,
        VENDORGATE_OUTPUT_DIR=str(output.parent),
    )
    for name in ("VAULT_TOKEN", "VAULT_ADDR"):
        env.pop(name, None)
    airflow = str(Path(sys.executable).with_name("airflow"))
    before = sandbox.counters().tokens(vendor="lonewolf")
    steps = ([airflow, "db", "migrate"], [sys.executable, str(folder / _DAG_FILE)])
    for cmd in steps:
        run = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if run.returncode != 0:
            tail = (run.stdout + run.stderr)[-1500:]
            return AirflowDemoResult(
                False, output, 0, 0, time.monotonic() - started, f"{Path(cmd[1]).name}: {tail}"
            )
    records = len(output.read_text().splitlines()) if output.exists() else 0
    used = sandbox.counters().tokens(vendor="lonewolf") - before
    return AirflowDemoResult(True, output, records, used, time.monotonic() - started)


def airflow_demo_step(context: DemoContext) -> str:
    """The ``vendorgate demo`` step: run the mapped DAG; return the summary line."""
    import shutil
    import tempfile

    print(
        "Airflow: running dags_examples/vendorgate_mapped_pages.py (dag.test())...",
        file=context.out,
        flush=True,
    )
    result = run_airflow_step(
        context.sandbox,
        vault_addr=context.bao.url,
        role_id=context.role_id,
        secret_id=context.secret_id,
        kv_prefix=context.kv_prefix,
        workdir=context.workdir,
    )
    if not result.ok:
        return f"Airflow: the mapped DAG failed: {result.detail}"
    kept = Path(tempfile.mkdtemp(prefix="vendorgate-demo-airflow-")) / result.output.name
    shutil.copyfile(result.output, kept)
    return (
        f"Airflow: mapped DAG ok in {result.seconds:.0f} s: 24 mapped tasks and an extract, "
        f"{result.records} records written to {kept}; the sandbox saw "
        f"{result.token_requests} token request(s) for the whole DAG run."
    )
