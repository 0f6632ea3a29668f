"""``VendorGateHook`` against the vendor sandbox and a real OpenBao (outside a DAG run)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from vendorgate.airflow._sandbox import sandbox_connection, store_sandbox_secrets

if TYPE_CHECKING:
    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.airflow]


def _set(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    extra = dict(conn.get("extra") or {}, cache="memory")
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(dict(conn, extra=extra)))


def _redacted(text: str) -> str:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    return str(redact(text))


@pytest.fixture
def with_vault(
    sandbox: VendorSandbox, openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> VendorSandbox:
    """The sandbox's demo secrets in OpenBao, the process logged in with VAULT_* variables."""
    store_sandbox_secrets(openbao, sandbox)
    monkeypatch.setenv("VAULT_ADDR", openbao.url)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    return sandbox


def test_test_connection_asks_for_a_token_and_says_ok(
    with_vault: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Test button's answer: a real token request, its lifetime, no data call."""
    from vendorgate.airflow.hooks import VendorGateHook

    _set(monkeypatch, "vg_ok", sandbox_connection(with_vault, "tci-atm"))
    ok, message = VendorGateHook(vendorgate_conn_id="vg_ok").test_connection()
    assert ok, message
    assert "tci-atm" in message
    assert with_vault.counters().tokens(vendor="tci") == 1
    assert sum(with_vault.counters().api_requests.values()) == 0


def test_test_connection_names_the_reason_without_the_secret(
    with_vault: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused client secret gives the vendor's reason, never the secret sent."""
    from vendorgate.airflow.hooks import VendorGateHook

    conn = sandbox_connection(with_vault, "lonewolf")
    del conn["extra"]["client_secret_ref"]
    _set(monkeypatch, "vg_bad", dict(conn, password="wrong-secret-value-77"))
    ok, message = VendorGateHook(vendorgate_conn_id="vg_bad").test_connection()
    assert not ok
    assert "401" in message
    assert "wrong-secret-value-77" not in message


def test_missing_vault_key_names_the_field(
    with_vault: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Vault reference to a key that does not exist says which field and which key."""
    from vendorgate.airflow.hooks import VendorGateHook

    conn = sandbox_connection(with_vault, "lonewolf")
    conn["extra"]["client_secret_ref"] = "vault:secret/vendorgate/airflow/lonewolf#nope"
    _set(monkeypatch, "vg_nokey", conn)
    ok, message = VendorGateHook(vendorgate_conn_id="vg_nokey").test_connection()
    assert not ok
    assert "client_secret" in message
    assert "nope" in message


def test_test_connection_names_a_missing_tenant_before_asking(
    with_vault: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Test button on a TechWolf connection without a tenant names extra.tenant first."""
    from vendorgate.airflow.hooks import VendorGateHook

    conn = sandbox_connection(with_vault, "techwolf-eu")
    del conn["extra"]["tenant"]
    _set(monkeypatch, "vg_notenant", conn)
    ok, message = VendorGateHook(vendorgate_conn_id="vg_notenant").test_connection()
    assert not ok
    assert "extra.tenant" in message
    assert "is required by preset 'techwolf-eu'" in message
    assert with_vault.counters().tokens(vendor="techwolf-eu") == 0


def test_token_and_vault_secret_are_masked_once_obtained(
    with_vault: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow's masker hides the token and the secret read from Vault in any later log line."""
    from vendorgate.airflow.hooks import VendorGateHook

    _set(monkeypatch, "vg_mask", sandbox_connection(with_vault, "lonewolf"))
    token = VendorGateHook(vendorgate_conn_id="vg_mask").get_token()
    secret = with_vault.demo_credentials("lonewolf")["client_secret"].reveal()
    line = _redacted(f"token={token.access_token} secret={secret}")
    assert token.access_token not in line
    assert secret not in line


def test_get_conn_and_async_conn_share_the_token(
    with_vault: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync client and the async client (triggers) use one cached token."""
    from vendorgate.airflow.hooks import VendorGateHook

    _set(monkeypatch, "vg_both", sandbox_connection(with_vault, "wokelo"))
    hook = VendorGateHook(vendorgate_conn_id="vg_both")
    with hook.get_conn() as client:
        total = client.get_json("/items", params={"per_page": 1})["total"]

    async def read() -> Any:
        async with await VendorGateHook(vendorgate_conn_id="vg_both").aget_conn() as aclient:
            return await aclient.get_json("/items", params={"per_page": 1})

    assert asyncio.run(read())["total"] == total
    assert with_vault.counters().tokens(vendor="wokelo") == 1


def test_airflow_conn_reference_reads_another_connections_password(
    sandbox: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """client_secret_ref = airflow-conn:ID#password takes the secret from another connection."""
    from vendorgate.airflow.hooks import VendorGateHook

    secret = sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    monkeypatch.setenv(
        "AIRFLOW_CONN_VG_VAULTED", json.dumps({"conn_type": "generic", "password": secret})
    )
    conn = sandbox_connection(sandbox, "lonewolf")
    conn["extra"]["client_secret_ref"] = "airflow-conn:vg_vaulted#password"
    _set(monkeypatch, "vg_ref", conn)
    ok, message = VendorGateHook(vendorgate_conn_id="vg_ref").test_connection()
    assert ok, message


def test_requests_auth_type_sends_the_shared_token(
    with_vault: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HttpHook-style code (requests) gets the same cached token as the vendorgate client."""
    import requests

    from vendorgate.airflow.hooks import VendorGateHook

    conn = sandbox_connection(with_vault, "techwolf-eu")
    _set(monkeypatch, "vg_req", conn)
    auth_type = VendorGateHook.requests_auth_type("vg_req")  # no connection read yet
    with VendorGateHook(vendorgate_conn_id="vg_req").get_conn() as client:
        client.get_json("/items", params={"per_page": 1})
    with requests.Session() as session:
        session.auth = auth_type()
        reply = session.get(conn["host"] + "/items", params={"per_page": 1}, timeout=30)
    assert reply.status_code == 200
    assert with_vault.counters().tokens(vendor="techwolf-eu") == 1
