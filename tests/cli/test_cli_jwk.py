"""``vendorgate jwk``: the public key to register with a vendor, as PEM and as a JWKS."""

from __future__ import annotations

import json
import uuid

import pytest


@pytest.fixture
def rsa_pem_file(tmp_path) -> str:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
    return str(path)


def test_jwk_prints_pem_and_jwks_of_a_pem_reference(run_cli, rsa_pem_file: str) -> None:
    """A PEM private key reference gives the public PEM, the JWKS and its thumbprint kid."""
    from vendorgate.signing import jwk_thumbprint

    proc = run_cli("jwk", "--private-key", f"file:{rsa_pem_file}")
    assert proc.returncode == 0, proc.stderr
    assert "-----BEGIN PUBLIC KEY-----" in proc.stdout
    assert "PRIVATE" not in proc.stdout
    jwks = json.loads(proc.stdout[proc.stdout.index("{") :])
    key = jwks["keys"][0]
    assert key["kid"] == jwk_thumbprint(key)
    assert proc.stdout.startswith(f"# kid: {key['kid']}\n")
    assert set(key) == {"kty", "n", "e", "use", "alg", "kid"}


def test_jwk_jwks_format_is_plain_json(run_cli, rsa_pem_file: str) -> None:
    """--format jwks prints only the JWKS, ready to upload or pipe to jq."""
    proc = run_cli("jwk", "--private-key", f"file:{rsa_pem_file}", "--format", "jwks")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["keys"][0]["alg"] == "RS256"


def test_jwk_explicit_kid_wins(run_cli, rsa_pem_file: str) -> None:
    """--kid publishes the kid the vendor asked for."""
    proc = run_cli(
        "jwk", "--private-key", f"file:{rsa_pem_file}", "--kid", "acme-1", "--format", "jwks"
    )
    assert json.loads(proc.stdout)["keys"][0]["kid"] == "acme-1"


def test_jwk_needs_a_key(run_cli) -> None:
    """Without --private-key or --transit-key the command says what it needs (exit 2)."""
    proc = run_cli("jwk")
    assert proc.returncode == 2
    assert "--private-key" in proc.stderr


@pytest.mark.slow
def test_jwk_of_a_transit_key_is_accepted_by_the_vendor(run_cli, openbao, sandbox) -> None:
    """The JWKS printed for a Transit key, registered as is, accepts Transit-signed assertions."""
    from vendorgate.dialects import get_dialect
    from vendorgate.tokens import TokenConfig, TokenFetcher

    name = f"vg-jwk-{uuid.uuid4().hex[:8]}"
    openbao.client().secrets.transit.create_key(name=name, key_type="rsa-2048")
    proc = run_cli(
        "jwk",
        "--transit-key",
        f"transit/{name}",
        "--format",
        "jwks",
        env={"VAULT_ADDR": openbao.url, "VAULT_TOKEN": openbao.root_token},
    )
    assert proc.returncode == 0, proc.stderr
    client_id = f"jwk-cli-{uuid.uuid4().hex[:8]}"
    sandbox.add_client("oauth2", client_id, public_jwks=json.loads(proc.stdout))
    config = TokenConfig(
        dialect=get_dialect("oauth2-private-key-jwt"),
        client_id=client_id,
        token_url=sandbox.token_url("oauth2"),
        transit_key=f"transit/{name}",
        vault=openbao.settings(),
    )
    assert TokenFetcher(config).fetch().access_token
