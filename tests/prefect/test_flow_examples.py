"""The example flows run in a real Prefect 3 (test harness) against the sandbox and OpenBao."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _prefect_helpers import load_flow_example

if TYPE_CHECKING:
    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

PRESETS = [
    "techwolf-eu",
    "techwolf-us",
    "lonewolf",
    "tci-atm",
    "oauth2-basic",
    "oauth2-post",
    "oauth2-private-key-jwt",
    "wokelo",
]


def _vendor(sandbox: VendorSandbox, preset: str) -> str:
    return str(sandbox.demo_credentials(preset)["token_url"].rstrip("/").split("/")[3])


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_flow_pulls_everything_with_one_token(
    prefect_harness: None,
    sandbox: VendorSandbox,
    openbao: OpenBaoServer,
    tmp_path: Path,
    preset: str,
) -> None:
    """Each preset's example flow extracts every record with one token request."""
    blocks = load_flow_example("_sandbox_blocks")
    block = blocks.save_blocks(preset, sandbox, openbao, name=f"test-{preset}")
    module = load_flow_example(f"{preset.replace('-', '_')}_flow")
    flow = getattr(module, f"{preset.replace('-', '_')}_items")

    result = flow(api_block=block, output_dir=str(tmp_path))

    total = sandbox.config()["dataset_size"]
    assert result["records"] == total
    ids = [json.loads(line)["id"] for line in Path(result["output"]).read_text().splitlines()]
    assert len(set(ids)) == total
    assert sandbox.counters().tokens(vendor=_vendor(sandbox, preset)) == 1


def test_concurrent_flow_shares_one_token(
    prefect_harness: None, sandbox: VendorSandbox, openbao: OpenBaoServer, tmp_path: Path
) -> None:
    """Twenty-four concurrent task runs cause one token request at the vendor."""
    blocks = load_flow_example("_sandbox_blocks")
    block = blocks.save_blocks(
        "oauth2-basic", sandbox, openbao, name="test-concurrent", client_id="concurrent-client"
    )
    module = load_flow_example("vendorgate_concurrent_flow")

    result = module.concurrent_extract(api_block=block, output_dir=str(tmp_path), tasks=24)

    assert result["task_runs"] == 24
    assert result["records"] == 24 * sandbox.config()["dataset_size"]
    assert sandbox.counters().tokens(vendor="oauth2") == 1


def test_core_flow_two_tasks_share_one_token(
    prefect_harness: None,
    sandbox: VendorSandbox,
    openbao: OpenBaoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The core-only example pulls every record with one token request; no secret shown."""
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
    flow_module = load_flow_example("vendorgate_core_flow")

    state = flow_module.vendorgate_core_pull(settings, return_state=True)

    assert state.is_completed(), state
    result = state.result()
    total = sandbox.config()["dataset_size"]
    assert result["records"] == total
    assert sandbox.counters().tokens(vendor="oauth2") == 1
    shown = json.dumps(result, default=str) + caplog.text
    assert secret not in shown
    assert "eyJ" not in shown
