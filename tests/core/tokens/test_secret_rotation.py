"""A client secret or key rotated in Vault and at the vendor before the resolver's ttl_s ran
out: a refused token request re-reads it once (real sandbox, real OpenBao)."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from vendorgate import TokenRequestError
from vendorgate._secret import Secret
from vendorgate.dialects import get_dialect
from vendorgate.secrets import SecretResolver, VaultSession
from vendorgate.secrets._ref import SecretRef
from vendorgate.testing import OpenBaoServer, VendorSandbox
from vendorgate.tokens import TokenConfig, TokenFetcher

if TYPE_CHECKING:
    from conftest import Endpoint


class CountingSession(VaultSession):
    """A real Vault session that counts its KV reads."""

    reads = 0

    def read_secret(self, ref: SecretRef) -> Secret:
        self.reads += 1
        return super().read_secret(ref)


def _unique() -> str:
    return uuid.uuid4().hex[:10]


def _write(bao: OpenBaoServer, path: str, **values: str) -> None:
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=path, secret=values, mount_point="secret"
    )


def _secret_setup(
    openbao: OpenBaoServer, sandbox: VendorSandbox, *, interval_s: float = 60.0
) -> tuple[str, str, CountingSession, TokenFetcher]:
    """A Lone Wolf client whose secret is in Vault; a fetcher with a counting resolver."""
    client_id, path = f"rot-{_unique()}", f"vgrotate/{_unique()}"
    sandbox.add_client("lonewolf", client_id, client_secret="secret-v1")
    _write(openbao, path, client_secret="secret-v1")
    session = CountingSession(openbao.settings())
    cfg = TokenConfig(
        dialect=get_dialect("lonewolf"),
        client_id=client_id,
        token_url=sandbox.token_url("lonewolf"),
        client_secret=f"vault:secret/{path}#client_secret",
    )
    resolver = SecretResolver(session, reread_interval_s=interval_s)
    return client_id, path, session, TokenFetcher(cfg, resolver=resolver)


def _token_requests(sandbox: VendorSandbox, client_id: str) -> int:
    counts = sandbox.counters().token_requests
    return sum(n for (_, cid, _), n in counts.items() if cid == client_id)


@pytest.mark.slow
def test_secret_rotated_in_vault_and_at_vendor_is_read_again(
    openbao: OpenBaoServer, sandbox: VendorSandbox
) -> None:
    """After a rotation the next fetch succeeds with one extra Vault read, within ttl_s."""
    client_id, path, session, fetcher = _secret_setup(openbao, sandbox)
    fetcher.fetch()
    reads, requests = session.reads, _token_requests(sandbox, client_id)

    _write(openbao, path, client_secret="secret-v2")
    sandbox.add_client("lonewolf", client_id, client_secret="secret-v2")
    assert fetcher.fetch().access_token

    assert session.reads - reads == 1
    assert _token_requests(sandbox, client_id) - requests == 2  # refused, then granted


@pytest.mark.slow
@pytest.mark.anyio
async def test_async_fetch_reads_a_rotated_secret_again(
    openbao: OpenBaoServer, sandbox: VendorSandbox
) -> None:
    """The async fetch re-reads a rotated secret once and succeeds, like the sync one."""
    client_id, path, session, fetcher = _secret_setup(openbao, sandbox)
    await fetcher.afetch()
    reads = session.reads

    _write(openbao, path, client_secret="secret-v2")
    sandbox.add_client("lonewolf", client_id, client_secret="secret-v2")
    assert (await fetcher.afetch()).access_token
    assert session.reads - reads == 1


@pytest.mark.slow
def test_wrong_secret_fails_as_before_after_one_reread(
    openbao: OpenBaoServer, sandbox: VendorSandbox
) -> None:
    """A wrong secret in Vault gives the same 401 error, with exactly one re-read."""
    client_id, _, session, fetcher = _secret_setup(openbao, sandbox)
    fetcher.fetch()
    reads, requests = session.reads, _token_requests(sandbox, client_id)

    sandbox.add_client("lonewolf", client_id, client_secret="vendor-only")
    with pytest.raises(TokenRequestError) as info:
        fetcher.fetch()

    assert info.value.status == 401
    assert "check the client id and client secret" in str(info.value)
    assert session.reads - reads == 1
    assert _token_requests(sandbox, client_id) - requests == 1  # unchanged: no resend


@pytest.mark.slow
def test_rereads_of_a_wrong_secret_are_rate_limited(
    openbao: OpenBaoServer, sandbox: VendorSandbox
) -> None:
    """Failures within reread_interval_s of a re-read do not read Vault again."""
    client_id, _, session, fetcher = _secret_setup(openbao, sandbox, interval_s=3600)
    fetcher.fetch()
    sandbox.add_client("lonewolf", client_id, client_secret="vendor-only")
    reads = session.reads
    for _ in range(3):
        with pytest.raises(TokenRequestError):
            fetcher.fetch()
    assert session.reads - reads == 1


@pytest.mark.slow
def test_secret_rotated_to_another_wrong_value_is_tried_once(
    openbao: OpenBaoServer, sandbox: VendorSandbox
) -> None:
    """A re-read value the vendor refuses too is sent once, then the 401 is raised."""
    client_id, path, session, fetcher = _secret_setup(openbao, sandbox)
    fetcher.fetch()
    reads, requests = session.reads, _token_requests(sandbox, client_id)

    _write(openbao, path, client_secret="secret-v2")
    sandbox.add_client("lonewolf", client_id, client_secret="secret-v3")
    with pytest.raises(TokenRequestError) as info:
        fetcher.fetch()

    assert info.value.status == 401
    assert session.reads - reads == 1
    assert _token_requests(sandbox, client_id) - requests == 2


def _new_key_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
    public = key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


@pytest.mark.slow
def test_private_key_rotated_in_vault_and_at_vendor_is_read_again(
    openbao: OpenBaoServer, sandbox: VendorSandbox
) -> None:
    """A private_key_jwt key rotated in both places is re-read once and signs the retry."""
    client_id, path = f"rot-{_unique()}", f"vgrotate/{_unique()}"
    old_private, old_public = _new_key_pair()
    new_private, new_public = _new_key_pair()
    preset = "oauth2-private-key-jwt"
    sandbox.add_client(preset, client_id, public_key_pem=old_public)
    _write(openbao, path, private_key=old_private)
    session = CountingSession(openbao.settings())
    cfg = TokenConfig(
        dialect=get_dialect(preset),
        client_id=client_id,
        token_url=sandbox.token_url(preset),
        private_key=f"vault:secret/{path}#private_key",
    )
    fetcher = TokenFetcher(cfg, resolver=SecretResolver(session))
    fetcher.fetch()
    reads = session.reads

    _write(openbao, path, private_key=new_private)
    sandbox.add_client(preset, client_id, public_key_pem=new_public)
    assert fetcher.fetch().access_token
    assert session.reads - reads == 1


def test_400_invalid_client_rereads_an_env_secret(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 invalid_client refusal re-reads the secret too (not only a 401)."""
    var = f"VG_ROTATE_{_unique().upper()}"
    monkeypatch.setenv(var, "old")
    endpoint.replies.append(httpx.Response(400, json={"error": "invalid_client"}))
    cfg = TokenConfig(
        dialect=get_dialect("oauth2-basic"),
        client_id="me",
        token_url="https://id.example.com/oauth/token",
        client_secret=f"env:{var}",
        client_auth="body",
    )
    fetcher = TokenFetcher(cfg, resolver=SecretResolver(), http_client=endpoint.client())
    fetcher.resolver.resolve(f"env:{var}", field="client_secret")  # cached: "old"
    os.environ[var] = "new"
    assert fetcher.fetch().access_token
    sent: list[Any] = [r.content.decode() for r in endpoint.requests]
    assert "client_secret=old" in sent[0]
    assert "client_secret=new" in sent[1]


def test_400_invalid_request_is_not_retried(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed request (400 invalid_request) is raised at once, no re-read, no resend."""
    var = f"VG_ROTATE_{_unique().upper()}"
    monkeypatch.setenv(var, "old")
    endpoint.replies.append(httpx.Response(400, json={"error": "invalid_request"}))
    cfg = TokenConfig(
        dialect=get_dialect("oauth2-basic"),
        client_id="me",
        token_url="https://id.example.com/oauth/token",
        client_secret=f"env:{var}",
        client_auth="body",
    )
    fetcher = TokenFetcher(cfg, resolver=SecretResolver(), http_client=endpoint.client())
    fetcher.resolver.resolve(f"env:{var}", field="client_secret")
    os.environ[var] = "new"
    with pytest.raises(TokenRequestError) as info:
        fetcher.fetch()
    assert info.value.status == 400
    assert len(endpoint.requests) == 1


@pytest.mark.slow
def test_password_rotated_in_vault_and_at_vendor_is_read_again(
    openbao: OpenBaoServer, sandbox: VendorSandbox
) -> None:
    """A password-grant user's password rotated in both places is re-read once."""
    client_id, path = f"rot-{_unique()}", f"vgrotate/{_unique()}"
    sandbox.add_client("wokelo", client_id, client_secret="cs", username="robot", password="pw-v1")
    _write(openbao, path, client_secret="cs", password="pw-v1")
    session = CountingSession(openbao.settings())
    cfg = TokenConfig(
        dialect=get_dialect("wokelo"),
        client_id=client_id,
        token_url=sandbox.token_url("wokelo"),
        client_secret=f"vault:secret/{path}#client_secret",
        username="literal:robot",
        password=f"vault:secret/{path}#password",
    )
    fetcher = TokenFetcher(cfg, resolver=SecretResolver(session))
    fetcher.fetch()
    reads = session.reads

    _write(openbao, path, client_secret="cs", password="pw-v2")
    sandbox.add_client("wokelo", client_id, client_secret="cs", username="robot", password="pw-v2")
    assert fetcher.fetch().access_token
    assert session.reads - reads == 2  # the client secret and the password
