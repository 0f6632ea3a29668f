"""The example flows run in a real Prefect 3 (test harness with a temporary server)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

FLOWS = Path(__file__).resolve().parents[2] / "flows_examples"


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, FLOWS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_two_tasks_share_one_token_and_results_hold_no_secret(
    prefect_harness: None,
    sandbox: VendorSandbox,
    openbao: OpenBaoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A flow run pulls every record with one token request; no secret in results or logs."""
    secret = sandbox.demo_credentials("oauth2-basic")["client_secret"].reveal()
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="flow-example/oauth2", secret={"client_secret": secret}
    )
    monkeypatch.setenv("VAULT_ADDR", openbao.url)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    settings = {
        "connection": {
            "token": {
                "preset": "oauth2-basic",
                "client_id": "demo-client",
                "token_url": sandbox.token_url("oauth2-basic"),
                "client_secret": "vault:secret/flow-example/oauth2#client_secret",
            },
            "base_url": sandbox.api_url("oauth2-basic"),
            "cache": {"backend": "file", "directory": str(tmp_path / "cache")},
        },
        "path": "/items",
        "paginator": {"type": "page_number", "page_size": 50, "records_path": "items"},
        "output": str(tmp_path / "items.jsonl"),
    }
    flow_module = _load("vendorgate_core_flow")

    state = flow_module.vendorgate_core_pull(settings, return_state=True)

    assert state.is_completed(), state
    result = state.result()
    total = sandbox.config()["dataset_size"]
    assert result["records"] == total
    ids = [json.loads(line)["id"] for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == total
    assert sandbox.counters().tokens(vendor="oauth2") == 1
    shown = json.dumps(result, default=str) + caplog.text
    assert secret not in shown
    assert "eyJ" not in shown
