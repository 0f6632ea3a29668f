"""Tokens with secrets and keys from a real OpenBao: token and AppRole auth, Transit signing."""

from __future__ import annotations

import uuid

import jwt
import pytest

from vendorgate import (
    SecretNotFoundError,
    VaultPermissionError,
    VaultUnavailableError,
)
from vendorgate._secret import Secret
from vendorgate.dialects import get_dialect
from vendorgate.secrets import SecretResolver, VaultSession
from vendorgate.tokens import TokenConfig, TokenFetcher

pytestmark = pytest.mark.slow


def _unique() -> str:
    return uuid.uuid4().hex[:10]


def _store_lonewolf_secret(openbao, sandbox) -> str:
    path = f"vgtokens/{_unique()}/lonewolf"
    secret = sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=path, secret={"client_secret": secret}, mount_point="secret"
    )
    return path


def _lonewolf(sandbox, ref: str, vault) -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("lonewolf"),
        client_id="demo-client",
        token_url=sandbox.token_url("lonewolf"),
        client_secret=ref,
        vault=vault,
    )


def test_client_secret_from_vault_with_token_auth(openbao, sandbox) -> None:
    """A client secret read from KV v2 with a Vault token gets a Lone Wolf token."""
    path = _store_lonewolf_secret(openbao, sandbox)
    cfg = _lonewolf(sandbox, f"vault:secret/{path}#client_secret", openbao.settings())
    assert TokenFetcher(cfg).fetch().lifetime_s == pytest.approx(86400, abs=2)


def test_client_secret_from_vault_with_approle(openbao, sandbox) -> None:
    """A client secret read with an AppRole login (least-privilege policy) gets a token."""
    path = _store_lonewolf_secret(openbao, sandbox)
    role_id, secret_id = openbao.create_approle(
        f"vgtok-{_unique()}",
        policy_hcl=f'path "secret/data/{path}" {{ capabilities = ["read"] }}',
    )
    settings = openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    cfg = _lonewolf(sandbox, f"vault:secret/{path}#client_secret", settings)
    assert TokenFetcher(cfg).fetch().access_token


def test_missing_vault_path_names_the_field(openbao, sandbox) -> None:
    """A reference to a path that does not exist fails naming the reference's field."""
    cfg = _lonewolf(sandbox, f"vault:secret/vgtokens/{_unique()}#client_secret", openbao.settings())
    with pytest.raises(SecretNotFoundError) as info:
        TokenFetcher(cfg, resolver=SecretResolver(openbao.settings())).fetch()
    assert "client_secret" in str(info.value)


def test_missing_vault_key_names_the_key(openbao, sandbox) -> None:
    """A reference to a missing key of an existing secret names the key, not the values."""
    path = _store_lonewolf_secret(openbao, sandbox)
    cfg = _lonewolf(sandbox, f"vault:secret/{path}#clientSecret", openbao.settings())
    with pytest.raises(SecretNotFoundError, match="clientSecret") as info:
        TokenFetcher(cfg).fetch()
    assert sandbox.demo_credentials("lonewolf")["client_secret"].reveal() not in str(info.value)


def test_vault_permission_denied(openbao, sandbox) -> None:
    """An identity whose policy does not cover the path gets VaultPermissionError."""
    path = _store_lonewolf_secret(openbao, sandbox)
    role_id, secret_id = openbao.create_approle(
        f"vgtok-deny-{_unique()}",
        policy_hcl='path "secret/data/elsewhere/*" { capabilities = ["read"] }',
    )
    settings = openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    cfg = _lonewolf(sandbox, f"vault:secret/{path}#client_secret", settings)
    with pytest.raises(VaultPermissionError):
        TokenFetcher(cfg).fetch()


def test_unreachable_vault(sandbox) -> None:
    """An unreachable Vault fails with VaultUnavailableError naming the field, no secret."""
    import socket

    from vendorgate.secrets import VaultSettings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    vault_token = "hvs.vault-t0ken-never-shown"
    settings = VaultSettings(url=f"http://127.0.0.1:{port}", token=Secret(vault_token), timeout_s=2)
    cfg = _lonewolf(sandbox, "vault:secret/x#client_secret", settings)
    with pytest.raises(VaultUnavailableError, match=r"^client_secret: ") as info:
        TokenFetcher(cfg).fetch()
    assert vault_token not in str(info.value)
    assert sandbox.demo_credentials("lonewolf")["client_secret"].reveal() not in str(info.value)


def test_sealed_vault(sandbox) -> None:
    """A sealed Vault fails the token fetch with VaultUnavailableError saying sealed."""
    from vendorgate.testing.openbao import OpenBaoServer

    with OpenBaoServer() as bao:
        settings = bao.settings()
        VaultSession(settings).client()
        bao.client().sys.seal()
        cfg = _lonewolf(sandbox, "vault:secret/x#client_secret", settings)
        with pytest.raises(VaultUnavailableError, match="sealed"):
            TokenFetcher(cfg, resolver=SecretResolver(VaultSession(settings))).fetch()


@pytest.mark.parametrize("preset", ["techwolf-eu", "oauth2-private-key-jwt"])
def test_transit_signed_assertion_is_accepted(openbao, sandbox, preset: str) -> None:
    """A client assertion signed inside Vault Transit gets a token; the key never leaves Vault."""
    name = f"vgtok-{_unique()}"
    openbao.client().secrets.transit.create_key(name=name, key_type="rsa-2048")
    keys = openbao.client().secrets.transit.read_key(name=name)["data"]["keys"]
    public_pem = keys["1"]["public_key"]
    client_id = f"transit-{_unique()}"
    sandbox.add_client(preset, client_id, public_key_pem=public_pem)
    cfg = TokenConfig(
        dialect=get_dialect(preset),
        client_id=client_id,
        token_url=sandbox.token_url(preset),
        transit_key=f"transit/{name}",
        tenant="demo-tenant" if preset.startswith("techwolf") else None,
        vault=openbao.settings(),
    )
    fetcher = TokenFetcher(cfg)
    assert fetcher.fetch().access_token
    assertion = fetcher.credentials().client_assertion
    assert assertion is not None
    claims = jwt.decode(
        assertion.reveal(), public_pem, algorithms=["RS256"], audience=sandbox.token_url(preset)
    )
    assert claims["iss"] == claims["sub"] == client_id
