"""The least-privilege Vault policies of docs/security.md are enough, and needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reliability_helpers import pull_items, read_ids

from vendorgate import VaultPermissionError
from vendorgate.testing import OpenBaoServer

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(60)]

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def _policies(client_id: str) -> list[str]:
    """The page's HCL blocks, with its example paths moved to this test's own paths."""
    blocks = re.findall(r"```hcl\n(.*?)```", SECURITY.read_text(), re.DOTALL)
    return [
        b.replace("vendors/techwolf", f"vendors/{client_id}").replace(
            "vendorgate/token-cache", f"vendorgate/{client_id}"
        )
        for b in blocks
    ]


def _connection(run, openbao: OpenBaoServer, role: str, hcl: str, monkeypatch):  # type: ignore[no-untyped-def]
    role_id, secret_id = openbao.create_approle(role, policy_hcl=hcl)
    run.scanner.add(secrets={"approle_secret_id": secret_id})
    monkeypatch.setenv("RELIAB_SECRET_ID", secret_id)
    vault = {
        "url": openbao.url,
        "auth_method": "approle",
        "role_id": role_id,
        "secret_id_ref": "env:RELIAB_SECRET_ID",
    }
    return run.connection(
        token={
            "client_secret": f"vault:secret/vendors/{run.client_id}#client_secret",
            "vault": vault,
        },
        cache={"backend": "vault", "prefix": f"vendorgate/{run.client_id}", "vault": vault},
    )


@pytest.mark.scenario(
    "worker with only the documented Vault policies (credentials read, cache in Vault)",
    expect="success; the token is cached in Vault",
)
def test_documented_policies_are_enough(run, openbao: OpenBaoServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A worker with only the credentials and cache policies pulls and caches in Vault."""
    run.scanner.add(secrets={"vault_root_token": openbao.root_token})
    root = openbao.client()
    root.secrets.kv.v2.create_or_update_secret(
        path=f"vendors/{run.client_id}",
        secret={"client_secret": run.client_secret.reveal()},
    )
    credentials, _transit, cache = _policies(run.client_id)
    conn = _connection(run, openbao, run.client_id, credentials + cache, monkeypatch)
    out = run.tmp_path / "items.jsonl"
    with conn.client() as client:
        result = pull_items(client, out)
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    listed = root.secrets.kv.v2.list_secrets(path=f"vendorgate/{run.client_id}")
    assert listed["data"]["keys"]  # the token went to the Vault cache, not only to memory
    run.succeeded(result.records)


@pytest.mark.scenario(
    "worker lacking the credentials policy",
    expect="VaultPermissionError, no vendor request",
)
def test_without_the_credentials_policy_is_refused(
    run, openbao: OpenBaoServer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A role lacking the credentials policy gets VaultPermissionError, not a vendor call."""
    run.scanner.add(secrets={"vault_root_token": openbao.root_token})
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=f"vendors/{run.client_id}",
        secret={"client_secret": run.client_secret.reveal()},
    )
    _credentials, _transit, cache = _policies(run.client_id)
    conn = _connection(run, openbao, run.client_id, cache, monkeypatch)
    with conn.client() as client, pytest.raises(VaultPermissionError) as info:
        pull_items(client, run.tmp_path / "items.jsonl")
    run.failed_with(info.value)
    assert run.tokens_requested() == 0
