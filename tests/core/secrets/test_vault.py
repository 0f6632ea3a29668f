"""Vault through a real OpenBao: reading references, logins, renewal and error mapping."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from vendorgate import _errors
from vendorgate._secret import Secret
from vendorgate.secrets import SecretResolver, VaultSession, VaultSettings
from vendorgate.testing import OpenBaoServer

pytestmark = pytest.mark.slow

READ_POLICY = 'path "secret/data/vg/allowed/*" { capabilities = ["read"] }'


def _unique() -> str:
    return uuid.uuid4().hex[:10]


def _write(bao: OpenBaoServer, path: str, data: dict[str, str]) -> None:
    bao.client().secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point="secret")


@pytest.fixture(scope="module")
def approle(openbao: OpenBaoServer) -> VaultSettings:
    role_id, secret_id = openbao.create_approle("vg-reader", policy_hcl=READ_POLICY)
    return openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))


# -- reading -------------------------------------------------------------------------------


def test_kv_v2_reference_resolves(openbao: OpenBaoServer) -> None:
    """vault:secret/<path>#<key> returns the key's value from KV v2."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"client_secret": "s3cr3t"})
    resolver = SecretResolver(openbao.settings())
    assert resolver.resolve(f"vault:secret/{path}#client_secret", field="cs").reveal() == "s3cr3t"


def test_version_pin_reads_older_version(openbao: OpenBaoServer) -> None:
    """@<version> reads that version, not the latest."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"k": "one"})
    _write(openbao, path, {"k": "two"})
    resolver = SecretResolver(openbao.settings())
    assert resolver.resolve(f"vault:secret/{path}#k@1", field="f").reveal() == "one"
    assert resolver.resolve(f"vault:secret/{path}#k", field="f").reveal() == "two"


def test_kv_v1_mount_is_detected(openbao: OpenBaoServer) -> None:
    """A KV v1 mount is detected from the server; vault+kv1: reads it without detection."""
    client = openbao.client()
    mount = f"kv1-{_unique()}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret(path="a/b", secret={"k": "v1"}, mount_point=mount)
    resolver = SecretResolver(openbao.settings(), ttl_s=0)
    assert resolver.resolve(f"vault:{mount}/a/b#k", field="f").reveal() == "v1"
    assert resolver.resolve(f"vault+kv1:{mount}/a/b#k", field="f").reveal() == "v1"


def test_nested_mount_is_detected(openbao: OpenBaoServer) -> None:
    """A mount whose path has a slash (team/kv) is found by asking the server."""
    client = openbao.client()
    mount = f"team-{_unique()}/kv"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    client.secrets.kv.v2.create_or_update_secret(
        path="x", secret={"k": "nested"}, mount_point=mount
    )
    resolver = SecretResolver(openbao.settings())
    assert resolver.resolve(f"vault:{mount}/x#k", field="f").reveal() == "nested"


def test_missing_path_names_reference(openbao: OpenBaoServer) -> None:
    """A missing path raises SecretNotFoundError naming the reference."""
    ref = f"vault:secret/vg/allowed/{_unique()}#client_secret"
    with pytest.raises(_errors.SecretNotFoundError, match="no secret at") as info:
        SecretResolver(openbao.settings()).resolve(ref, field="client_secret")
    assert ref in str(info.value)


def test_missing_key_names_key_and_hides_values(openbao: OpenBaoServer) -> None:
    """A missing key names the key and the keys present, never their values."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"client_id": "abc", "private_key": "very-secret-value"})
    with pytest.raises(_errors.SecretNotFoundError) as info:
        SecretResolver(openbao.settings()).resolve(f"vault:secret/{path}#client_secret", field="f")
    text = str(info.value)
    assert "'client_secret'" in text
    assert "private_key" in text
    assert "very-secret-value" not in text


def test_permission_denied(openbao: OpenBaoServer, approle: VaultSettings) -> None:
    """Reading outside the policy raises VaultPermissionError naming the reference."""
    path = f"vg/forbidden/{_unique()}"
    _write(openbao, path, {"k": "v"})
    with pytest.raises(_errors.VaultPermissionError, match="denied") as info:
        SecretResolver(approle).resolve(f"vault:secret/{path}#k", field="f")
    assert path in str(info.value)


def test_secret_read_once_per_ttl(openbao: OpenBaoServer) -> None:
    """1,000 resolves of one reference make one Vault read."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"k": "v"})
    resolver = SecretResolver(openbao.settings())
    before = _reads(openbao, path)
    for _ in range(1000):
        resolver.resolve(f"vault:secret/{path}#k", field="f")
    assert _reads(openbao, path) - before == 1


def _reads(bao: OpenBaoServer, path: str) -> int:
    return sum(
        1
        for e in bao.audit_entries()
        if e.get("type") == "request" and e["request"].get("path") == f"secret/data/{path}"
    )


@pytest.mark.anyio
async def test_aresolve_reads_vault(openbao: OpenBaoServer) -> None:
    """The async resolver returns the same value without blocking the event loop."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"k": "async"})
    resolver = SecretResolver(openbao.settings())
    assert (await resolver.aresolve(f"vault:secret/{path}#k", field="f")).reveal() == "async"


# -- sessions and logins ---------------------------------------------------------------------


def test_approle_logs_in_once_for_many_reads(
    openbao: OpenBaoServer, approle: VaultSettings
) -> None:
    """Many reads through one shared session cost one AppRole login."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"a": "1", "b": "2"})
    before = openbao.count_logins("approle")
    for _ in range(20):
        resolver = SecretResolver(approle, ttl_s=0)
        resolver.resolve(f"vault:secret/{path}#a", field="f")
        resolver.resolve(f"vault:secret/{path}#b", field="f")
    assert VaultSession.shared(approle).login_count == 1
    assert openbao.count_logins("approle") - before == 1


def test_shared_session_is_one_per_settings(approle: VaultSettings) -> None:
    """Equal settings share one session; different settings get their own."""
    same = approle.with_overrides()
    assert same is not approle
    assert VaultSession.shared(approle) is VaultSession.shared(same)
    other = approle.with_overrides(timeout_s=5)
    assert VaultSession.shared(other) is not VaultSession.shared(approle)


def test_threads_share_one_login(openbao: OpenBaoServer, approle: VaultSettings) -> None:
    """Eight threads reading at once through one session log in once."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"k": "v"})
    session = VaultSession.shared(approle)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            SecretResolver(session, ttl_s=0).resolve(f"vault:secret/{path}#k", field="f")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert session.login_count == 1


class _Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


def test_token_renewed_after_two_thirds_of_ttl(openbao: OpenBaoServer) -> None:
    """Past 2/3 of the token TTL the session renews its token instead of logging in again."""
    role_id, secret_id = openbao.create_approle(
        f"vg-renew-{_unique()}", policy_hcl=READ_POLICY, token_ttl="60s", token_max_ttl="1h"
    )
    session = VaultSession(
        openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    )
    clock = _Clock()
    session._clock = clock  # type: ignore[method-assign]
    token = session.client().token
    clock.now += 45
    assert session.client().token == token
    assert session.login_count == 1
    ttl = session.client().auth.token.lookup_self()["data"]["ttl"]
    assert ttl > 50  # renewed on the server, not just locally


def test_expired_token_logs_in_again(openbao: OpenBaoServer) -> None:
    """Once the token's TTL has passed, the session logs in again."""
    role_id, secret_id = openbao.create_approle(
        f"vg-exp-{_unique()}", policy_hcl=READ_POLICY, token_ttl="60s"
    )
    session = VaultSession(
        openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    )
    clock = _Clock()
    session._clock = clock  # type: ignore[method-assign]
    first = session.client().token
    clock.now += 61
    assert session.client().token != first
    assert session.login_count == 2


def test_failed_renewal_logs_in_again(openbao: OpenBaoServer) -> None:
    """When renewal fails (token revoked), the session logs in again."""
    role_id, secret_id = openbao.create_approle(
        f"vg-rev-{_unique()}", policy_hcl=READ_POLICY, token_ttl="60s"
    )
    session = VaultSession(
        openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    )
    clock = _Clock()
    session._clock = clock  # type: ignore[method-assign]
    first = session.client().token
    openbao.client().auth.token.revoke(first)
    clock.now += 45
    assert session.client().token != first
    assert session.login_count == 2


def test_revoked_token_recovers_on_permission_denied(openbao: OpenBaoServer) -> None:
    """A read with a revoked token logs in again once and succeeds."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"k": "v"})
    role_id, secret_id = openbao.create_approle(f"vg-rec-{_unique()}", policy_hcl=READ_POLICY)
    session = VaultSession(
        openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    )
    openbao.client().auth.token.revoke(session.client().token)
    assert SecretResolver(session).resolve(f"vault:secret/{path}#k", field="f").reveal() == "v"
    assert session.login_count == 2


def test_bad_secret_id_is_auth_error(openbao: OpenBaoServer, approle: VaultSettings) -> None:
    """A wrong AppRole secret id raises VaultAuthError without the secret id in it."""
    bad = approle.with_overrides(secret_id=Secret("wrong-secret-id-123"))
    with pytest.raises(_errors.VaultAuthError, match="login failed") as info:
        VaultSession(bad).client()
    assert "wrong-secret-id-123" not in str(info.value)


def test_bad_token_is_auth_error(openbao: OpenBaoServer) -> None:
    """A wrong Vault token raises VaultAuthError without the token in it."""
    with pytest.raises(_errors.VaultAuthError) as info:
        VaultSession(openbao.settings(token=Secret("hvs.not-a-real-token"))).client()
    assert "not-a-real-token" not in str(info.value)


def test_jwt_login_against_openbao(openbao: OpenBaoServer) -> None:
    """JWT auth logs in with a JWT signed by a key OpenBao trusts, then reads a secret."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    client = openbao.client()
    mount = f"jwt-{_unique()}"
    client.sys.enable_auth_method("jwt", path=mount)
    client.write_data(f"auth/{mount}/config", data={"jwt_validation_pubkeys": [public_pem]})
    openbao.write_policy("vg-jwt", READ_POLICY)
    client.write_data(
        f"auth/{mount}/role/etl",
        data={
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["vault"],
            "token_policies": ["vg-jwt"],
            "token_ttl": "10m",
        },
    )
    now = int(time.time())
    token = pyjwt.encode(
        {"sub": "etl-job", "aud": "vault", "iat": now, "exp": now + 300}, key, algorithm="RS256"
    )
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"k": "via-jwt"})
    settings = openbao.settings(auth_method="jwt", role="etl", jwt=Secret(token), mount_point=mount)
    assert (
        SecretResolver(settings).resolve(f"vault:secret/{path}#k", field="f").reveal() == "via-jwt"
    )
    assert openbao.count_logins(mount) == 1


# -- request shapes (Kubernetes, JWT) and broken servers --------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]
    reply: tuple[int, str, bytes]

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(  # type: ignore[attr-defined]
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, ctype, payload = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []  # type: ignore[attr-defined]
    login = {"auth": {"client_token": "s.recorded", "lease_duration": 600, "renewable": True}}
    server.reply = (200, "application/json", json.dumps(login).encode())  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_kubernetes_login_request_shape(recorder: ThreadingHTTPServer, tmp_path: Any) -> None:
    """Kubernetes auth POSTs role and the service account JWT to auth/<mount>/login."""
    sa = tmp_path / "token"
    sa.write_text("eyJhbGciOiJSUzI1NiJ9.sa.sig\n")
    settings = VaultSettings(
        url=_url(recorder),
        auth_method="kubernetes",
        role="etl",
        jwt_ref=f"file:{sa}",
        mount_point="k8s-prod",
        namespace="team-a",
    )
    session = VaultSession(settings)
    assert session.client().token == "s.recorded"
    [req] = recorder.requests  # type: ignore[attr-defined]
    assert (req["method"], req["path"]) == ("POST", "/v1/auth/k8s-prod/login")
    assert json.loads(req["body"]) == {"role": "etl", "jwt": "eyJhbGciOiJSUzI1NiJ9.sa.sig"}
    assert req["headers"]["X-Vault-Namespace"] == "team-a"


def test_jwt_login_request_shape(recorder: ThreadingHTTPServer) -> None:
    """JWT auth POSTs role and jwt to auth/jwt/login by default."""
    settings = VaultSettings(
        url=_url(recorder), auth_method="jwt", role="ci", jwt=Secret("header.payload.sig")
    )
    VaultSession(settings).client()
    [req] = recorder.requests  # type: ignore[attr-defined]
    assert req["path"] == "/v1/auth/jwt/login"
    assert json.loads(req["body"]) == {"role": "ci", "jwt": "header.payload.sig"}


def test_garbage_answer_is_unavailable(recorder: ThreadingHTTPServer) -> None:
    """A server answering HTML instead of Vault JSON raises VaultUnavailableError."""
    recorder.reply = (200, "text/html", b"<html>proxy login</html>")  # type: ignore[attr-defined]
    with pytest.raises(_errors.VaultUnavailableError, match="not a Vault reply"):
        VaultSession(VaultSettings(url=_url(recorder), token=Secret("t"))).client()


def test_unreachable_vault_is_unavailable() -> None:
    """Nothing listening at the address raises VaultUnavailableError saying so."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = VaultSettings(url=f"http://127.0.0.1:{port}", token=Secret("t"), timeout_s=2)
    with pytest.raises(_errors.VaultUnavailableError, match="cannot reach Vault"):
        SecretResolver(settings).resolve("vault:secret/a#b", field="f")


def test_sealed_vault_is_unavailable() -> None:
    """A sealed Vault raises VaultUnavailableError saying it is sealed."""
    with OpenBaoServer() as bao:
        settings = bao.settings()
        session = VaultSession(settings)
        session.client()
        bao.client().sys.seal()
        with pytest.raises(_errors.VaultUnavailableError, match="sealed"):
            SecretResolver(session).resolve("vault:secret/a/b#c", field="f")


# -- errors name the configuration field --------------------------------------------------


def test_missing_path_error_starts_with_the_field(openbao: OpenBaoServer) -> None:
    """A missing Vault path says which configuration field it was for, first."""
    ref = f"vault:secret/vg/allowed/{_unique()}#k"
    with pytest.raises(_errors.SecretNotFoundError, match=r"^client_secret: ") as info:
        SecretResolver(openbao.settings()).resolve(ref, field="client_secret")
    assert ref in str(info.value)


def test_missing_key_error_starts_with_the_field(openbao: OpenBaoServer) -> None:
    """A missing key in a Vault secret says which configuration field it was for, first."""
    path = f"vg/allowed/{_unique()}"
    _write(openbao, path, {"other": "very-secret-value"})
    with pytest.raises(_errors.SecretNotFoundError, match=r"^client_secret: ") as info:
        SecretResolver(openbao.settings()).resolve(
            f"vault:secret/{path}#client_secret", field="client_secret"
        )
    assert "very-secret-value" not in str(info.value)


def test_permission_denied_error_starts_with_the_field(
    openbao: OpenBaoServer, approle: VaultSettings
) -> None:
    """A Vault permission error says which configuration field it was for, first."""
    path = f"vg/forbidden/{_unique()}"
    _write(openbao, path, {"k": "v"})
    with pytest.raises(_errors.VaultPermissionError, match=r"^client_secret: "):
        SecretResolver(approle).resolve(f"vault:secret/{path}#k", field="client_secret")


def test_unreachable_vault_error_starts_with_the_field() -> None:
    """An unreachable Vault error says which configuration field and reference it was for."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = VaultSettings(url=f"http://127.0.0.1:{port}", token=Secret("t"), timeout_s=2)
    with pytest.raises(_errors.VaultUnavailableError, match=r"^client_secret: "):
        SecretResolver(settings).resolve("vault:secret/a#b", field="client_secret")


def test_sealed_vault_error_names_the_field_and_reference() -> None:
    """A sealed Vault error names the configuration field and the reference being read."""
    with OpenBaoServer() as bao:
        session = VaultSession(bao.settings())
        session.client()
        bao.client().sys.seal()
        with pytest.raises(_errors.VaultUnavailableError, match=r"^client_secret: ") as info:
            SecretResolver(session).resolve("vault:secret/a/b#c", field="client_secret")
    assert "vault:secret/a/b#c" in str(info.value)
    assert "sealed" in str(info.value)
