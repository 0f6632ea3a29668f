"""Fault matrix, Vault (OpenBao): sealed, unreachable, permission denied, login token
expired, a secret rotated mid-run."""

from __future__ import annotations

import time

import pytest
from reliability_helpers import free_port, pull_items, read_ids

from vendorgate import (
    Secret,
    SecretResolver,
    TokenRequestError,
    VaultPermissionError,
    VaultSettings,
    VaultUnavailableError,
)
from vendorgate.testing import OpenBaoServer

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(60)]


def _store_secret(bao: OpenBaoServer, run, value: Secret | None = None) -> str:  # type: ignore[no-untyped-def]
    """Write the scenario's client secret to KV v2; return its reference."""
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"rel/{run.client_id}",
        secret={"client_secret": (value or run.client_secret).reveal()},
    )
    return f"vault:secret/rel/{run.client_id}#client_secret"


def _approle(bao: OpenBaoServer, run, *, path: str | None = None, **kw) -> VaultSettings:  # type: ignore[no-untyped-def]
    policy = f'path "secret/data/{path or "rel/" + run.client_id}" {{ capabilities = ["read"] }}'
    role_id, secret_id = bao.create_approle(run.client_id, policy_hcl=policy, **kw)
    run.scanner.add(secrets={"approle_secret_id": secret_id})
    return bao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))


def _vault_conn(run, settings: VaultSettings, ref: str):  # type: ignore[no-untyped-def]
    conn = run.connection(token={"client_secret": ref})
    # The Vault settings (with their login secret) enter as a value, never as JSON.
    from dataclasses import replace

    return replace(conn, token=replace(conn.token, vault=settings))


@pytest.fixture
def bao(openbao: OpenBaoServer, run) -> OpenBaoServer:  # type: ignore[no-untyped-def]
    run.scanner.add(secrets={"vault_root_token": openbao.root_token})
    return openbao


@pytest.mark.scenario("Vault sealed", expect="VaultUnavailableError < 10 s, no vendor request")
def test_vault_sealed(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A sealed Vault is a VaultUnavailableError (retry later), not a credentials error."""
    with OpenBaoServer() as sealed:
        run.scanner.add(secrets={"vault_root_token": sealed.root_token})
        ref = _store_secret(sealed, run)
        settings = sealed.settings()
        sealed.client().sys.seal()
        run.restart_clock()
        conn = _vault_conn(run, settings, ref)
        with conn.client() as client, pytest.raises(VaultUnavailableError) as info:
            pull_items(client, tmp_path / "items.jsonl")
        run.failed_with(info.value)
    assert run.elapsed_s() < 10
    assert run.tokens_requested() == 0


@pytest.mark.scenario("Vault unreachable", expect="VaultUnavailableError < 10 s")
def test_vault_unreachable(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Vault nobody listens on gives VaultUnavailableError within its timeout."""
    settings = VaultSettings(
        url=f"http://127.0.0.1:{free_port()}", token=Secret("hvs.unused-token"), timeout_s=2
    )
    conn = _vault_conn(run, settings, f"vault:secret/rel/{run.client_id}#client_secret")
    with conn.client() as client, pytest.raises(VaultUnavailableError) as info:
        pull_items(client, tmp_path / "items.jsonl")
    run.failed_with(info.value)
    assert run.elapsed_s() < 10
    assert run.tokens_requested() == 0


@pytest.mark.scenario("Vault permission denied", expect="VaultPermissionError naming the path")
def test_vault_permission_denied(run, bao, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A policy that does not cover the secret gives VaultPermissionError at once."""
    ref = _store_secret(bao, run)
    settings = _approle(bao, run, path="rel/somebody-else")
    conn = _vault_conn(run, settings, ref)
    with conn.client() as client, pytest.raises(VaultPermissionError) as info:
        pull_items(client, tmp_path / "items.jsonl")
    run.failed_with(info.value)
    assert f"rel/{run.client_id}" in str(info.value)
    assert run.tokens_requested() == 0


@pytest.mark.scenario(
    "Vault login token expired between two token fetches",
    expect="success: a second AppRole login, no error",
)
def test_vault_login_token_expired(run, bao, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An expired Vault login token is replaced by a new login; the run continues."""
    ref = _store_secret(bao, run)
    settings = _approle(bao, run, token_ttl="2s", token_max_ttl="2s")
    conn = _vault_conn(run, settings, ref)
    # No secret cache: every vendor token fetch reads Vault.
    source = conn.provider(resolver=SecretResolver(settings, ttl_s=0))
    logins = bao.count_logins("approle")
    with conn.client(source=source) as client:
        pull_items(client, tmp_path / "first.jsonl")
        time.sleep(3)  # the Vault token's max TTL passes
        run.sandbox.revoke_client("lonewolf", run.client_id)  # forces a new vendor token
        result = pull_items(client, tmp_path / "items.jsonl")
    assert read_ids(tmp_path / "items.jsonl") == list(range(run.sandbox.dataset_size))
    assert bao.count_logins("approle") - logins == 2
    run.succeeded(result.records, "2 AppRole logins in all")


@pytest.mark.scenario(
    "client secret rotated mid-run (Vault + vendor)",
    expect="success: 401 invalid_client re-reads the secret once",
)
def test_secret_rotated_mid_run(run, bao, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """After a rotation the next token fetch uses the new secret from Vault."""
    ref = _store_secret(bao, run)
    conn = _vault_conn(run, bao.settings(), ref)
    with conn.client() as client:
        pull_items(client, tmp_path / "first.jsonl")
        new_secret = Secret(run.client_secret.reveal() + "-rotated")
        run.scanner.add(secrets={"client_secret_v2": new_secret})
        _store_secret(bao, run, new_secret)
        run.sandbox.add_client("lonewolf", run.client_id, client_secret=new_secret)
        run.sandbox.revoke_client("lonewolf", run.client_id)
        try:
            result = pull_items(client, tmp_path / "items.jsonl")
        except TokenRequestError as exc:
            run.failed_with(exc, f"status {exc.status}")
            raise
    assert read_ids(tmp_path / "items.jsonl") == list(range(run.sandbox.dataset_size))
    run.succeeded(result.records)
