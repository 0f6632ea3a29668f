"""``vendorgate doctor``: usage checks first, Vault probed with the Vault settings, skips."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lonewolf_args(sandbox, secret_ref: str) -> list[str]:
    return [
        "--preset",
        "lonewolf",
        "--token-url",
        sandbox.token_url("lonewolf"),
        "--client-id",
        "demo-client",
        "--client-secret",
        secret_ref,
    ]


class _Health(BaseHTTPRequestHandler):
    """Answers sys/health like an unsealed Vault and records the request headers."""

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers)))  # type: ignore[attr-defined]
        body = json.dumps({"initialized": True, "sealed": False, "standby": False}).encode()
        self.send_response(200 if self.path.startswith("/v1/sys/health") else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "vault.crt", tmp_path / "vault.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_vault(tmp_path: Path) -> Iterator[tuple[str, Path, list[Any]]]:
    """An HTTPS server answering sys/health, with a self-signed certificate."""
    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.seen = []  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert, server.seen  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_ping_without_api_url_is_usage_error_before_any_step(run_cli, sandbox) -> None:
    """--ping without --api-url exits 2 with one line, before any check runs."""
    out = run_cli(
        "doctor",
        *_lonewolf_args(sandbox, "env:DEMO_SECRET"),
        "--ping",
        "/version",
        env={"DEMO_SECRET": "x"},
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.splitlines()) == 1
    assert "--api-url" in out.stderr


def test_unreachable_vault_skips_the_steps_that_need_it(run_cli, sandbox) -> None:
    """With Vault unreachable, Vault secrets and the token fetch are skipped, not retried."""
    out = run_cli(
        "doctor",
        *_lonewolf_args(sandbox, "vault:secret/x#y"),
        "--vault-addr",
        f"http://127.0.0.1:{_free_port()}",
        "--vault-token",
        "env:BAO_TOKEN",
        env={"BAO_TOKEN": "t"},
    )
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert "skip  secret client_secret: skipped: Vault unreachable" in lines
    assert "skip  token fetch: skipped: Vault unreachable" in lines
    assert [line for line in lines if line.startswith("FAIL")] == [
        next(line for line in lines if line.startswith("FAIL  vault reachable"))
    ]


def test_vault_probe_honours_the_ca_certificate_and_namespace(run_cli, sandbox, tls_vault) -> None:
    """sys/health is asked with VAULT_CACERT trusted and the X-Vault-Namespace header."""
    url, cert, seen = tls_vault
    out = run_cli(
        "doctor",
        *_lonewolf_args(sandbox, "vault:secret/x#y"),
        "--vault-addr",
        url,
        "--vault-token",
        "env:BAO_TOKEN",
        env={"BAO_TOKEN": "t", "VAULT_CACERT": str(cert), "VAULT_NAMESPACE": "team-a"},
    )
    assert any(line.startswith("ok    vault reachable") for line in out.stdout.splitlines()), (
        out.stdout + out.stderr
    )
    health = [headers for path, headers in seen if path.startswith("/v1/sys/health")]
    assert health
    assert health[0].get("X-Vault-Namespace") == "team-a"


def test_key_on_a_preset_without_private_key_jwt_points_at_the_flags(run_cli, sandbox) -> None:
    """A key given to a client-secret-only preset says which flag to drop, not a setting."""
    out = run_cli(
        "doctor",
        *_lonewolf_args(sandbox, "env:DEMO_SECRET"),
        "--private-key",
        "env:KEY",
        env={"DEMO_SECRET": "x", "KEY": "k"},
    )
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1
    assert "--private-key" in out.stderr
    assert "client_auth='assertion'" not in out.stderr
