"""A real deployment: Prefect server on PostgreSQL, a process work pool, two workers.

The concurrent example flow is deployed and run several times at once; its task runs
spread over both workers share one vendor token through the block-document cache and
the global-concurrency-limit lock. Nothing the server stores or shows holds a secret.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _prefect_deployment import PrefectDeployment

if TYPE_CHECKING:
    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.timeout(900)]

FLOWS = Path(__file__).resolve().parents[2] / "flows_examples"
RUNS = 4
TASKS_PER_RUN = 6


def _decoded_texts(root: Path) -> str:
    """Every file under ``root``, plus the base64 payloads inside it decoded."""
    parts: list[str] = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        parts.append(raw.decode(errors="replace"))
        for blob in re.findall(rb"[A-Za-z0-9+/=\r\n]{40,}", raw):
            try:
                parts.append(base64.b64decode(re.sub(rb"\s", b"", blob)).decode(errors="replace"))
            except ValueError:
                continue
    return "\n".join(parts)


def _documents(api: Any, slug: str) -> list[dict[str, Any]]:
    """Block documents of one type with their secrets (as only their owner reads them)."""
    return list(
        api.post(
            "/block_documents/filter",
            json={"block_types": {"slug": {"any_": [slug]}}, "include_secrets": True},
        ).json()
    )


def _database_exists(name: str) -> bool:
    out = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip() == "1"


def _wait_for_runs(api: Any, ids: list[str], timeout_s: float = 600) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = [api.get(f"/flow_runs/{i}").json() for i in ids]
        if all(r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"flow runs not finished: {[r['state_type'] for r in runs]}")


def test_two_workers_share_one_token_and_store_no_secret(
    sandbox: VendorSandbox, openbao: OpenBaoServer, tmp_path: Path
) -> None:
    """Flow runs on two workers (24 task runs) cause one token request; block documents,
    logs, artifacts, results and process logs hold no secret and no token."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sys.path.insert(0, str(FLOWS))
    import _sandbox_blocks
    import vendorgate_concurrent_flow

    with (
        PrefectDeployment(workers=2, worker_limit=2) as dep,
        temporary_settings({PREFECT_API_URL: dep.api_url}),
    ):
        block = _sandbox_blocks.save_blocks(
            "oauth2-basic", sandbox, openbao, name="deployed-api", client_id="deployed-client"
        )
        deployment_id = vendorgate_concurrent_flow.concurrent_extract.from_source(
            source=str(FLOWS), entrypoint="vendorgate_concurrent_flow.py:concurrent_extract"
        ).deploy(name="concurrent", work_pool_name=dep.pool, print_next_steps=False)
        with dep.client() as api:
            ids = [
                api.post(
                    f"/deployments/{deployment_id}/create_flow_run",
                    json={
                        "parameters": {
                            "api_block": block,
                            "output_dir": str(tmp_path),
                            "tasks": TASKS_PER_RUN,
                            "run": f"run{i}",
                        }
                    },
                ).json()["id"]
                for i in range(RUNS)
            ]
            runs = _wait_for_runs(api, ids)
            states = [r["state_type"] for r in runs]
            assert states == ["COMPLETED"] * RUNS, dep.logs()[-4000:]
            task_runs = api.post(
                "/task_runs/filter", json={"flow_runs": {"id": {"any_": ids}}}
            ).json()
            extracts = [t for t in task_runs if t["name"].startswith("extract-vendor-data")]
            assert len(extracts) >= 20
            assert all(t["state_type"] == "COMPLETED" for t in extracts)
            workers = {
                label
                for r in runs
                for key, label in (r.get("labels") or {}).items()
                if key == "prefect.worker.name"
            }
            assert len(workers) == 2, workers
            assert sandbox.counters().tokens(vendor="oauth2") == 1

            # What a user of the server can read: block documents, logs, artifacts.
            documents = api.post("/block_documents/filter", json={}).text
            logs = json.dumps(
                api.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": ids}}}).json()
            )
            artifacts = api.post("/artifacts/filter", json={}).text
            variables = api.post("/variables/filter", json={}).text
            # The cached token itself, read the way only the token store reads it.
            entries = _documents(api, "vendorgate-token-cache-entry")
            vaults = _documents(api, "vendorgate-vault-connection")
        tokens = [json.loads(e["data"]["entry"])["token"]["access_token"] for e in entries]
        assert tokens
        creds = sandbox.demo_credentials("oauth2-basic")
        secrets = [
            creds["client_secret"].reveal(),
            openbao.root_token,
            *tokens,
            *(v["data"]["secret_id"] for v in vaults),
        ]
        shown = {
            "block documents": documents,
            "logs": logs,
            "artifacts": artifacts,
            "variables": variables,
            "result storage": _decoded_texts(dep.home / "storage"),
            "process logs": dep.logs(),
        }
        leaks = [where for where, text in shown.items() for s in secrets if s in text]
        assert leaks == []
        assert len(list(tmp_path.glob("run*-part-*.jsonl"))) == RUNS * TASKS_PER_RUN
        pids = [p.popen.pid for p in dep.procs]
    # nothing left behind: processes, database, PREFECT_HOME
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    assert not dep.home.exists()
    assert not _database_exists(dep.database)
