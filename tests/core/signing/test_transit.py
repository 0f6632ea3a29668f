"""TransitSigner: client assertions signed inside Vault Transit (real OpenBao)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import httpx
import jwt
import pytest

from vendorgate import _errors
from vendorgate.secrets import VaultSession
from vendorgate.signing import (
    CLIENT_ASSERTION_TYPE,
    AssertionSigner,
    TransitSigner,
    build_client_assertion,
    parse_transit_key,
)

if TYPE_CHECKING:
    from vendorgate.testing import OpenBaoServer, VendorSandbox

pytestmark = pytest.mark.slow

AUD = "https://techwolf.eu.auth0.com/oauth/token"


def _key(bao: OpenBaoServer, key_type: str) -> str:
    name = f"vg-{key_type}-{uuid.uuid4().hex[:8]}"
    bao.client().secrets.transit.create_key(name=name, key_type=key_type)
    return name


@pytest.fixture(scope="module")
def session(openbao: OpenBaoServer) -> VaultSession:
    return VaultSession(openbao.settings())


@pytest.mark.parametrize(
    ("alg", "key_type"), [("RS256", "rsa-2048"), ("PS256", "rsa-3072"), ("ES256", "ecdsa-p256")]
)
def test_transit_assertion_verifies_with_exported_public_key(
    openbao: OpenBaoServer, session: VaultSession, alg: str, key_type: str
) -> None:
    """An assertion signed by Transit verifies with the public key exported from Transit."""
    signer = TransitSigner(session, f"transit/{_key(openbao, key_type)}", alg=alg)
    token = build_client_assertion(signer, client_id="cid", audience=AUD)
    claims = jwt.decode(token, signer.public_key_pem(), algorithms=[alg], audience=AUD)
    assert claims["iss"] == claims["sub"] == "cid"


def test_es256_signature_is_raw_r_s(openbao: OpenBaoServer, session: VaultSession) -> None:
    """Transit's ES256 signature comes back as the 64-byte JOSE r||s form."""
    signer = TransitSigner(session, f"transit/{_key(openbao, 'ecdsa-p256')}", alg="ES256")
    assert len(signer.sign(b"a.b")) == 64


def test_default_kid_is_the_jwk_thumbprint(openbao: OpenBaoServer, session: VaultSession) -> None:
    """Without a kid, the header carries the RFC 7638 thumbprint of the pinned version's key."""
    from vendorgate.signing import jwk_thumbprint, public_jwk

    name = _key(openbao, "rsa-2048")
    openbao.client().secrets.transit.rotate_key(name=name)
    signer = TransitSigner(session, f"transit/{name}")
    header = jwt.get_unverified_header(build_client_assertion(signer, client_id="c", audience=AUD))
    assert signer.key_version == 2
    assert header["kid"] == jwk_thumbprint(public_jwk(signer.public_key_pem()))
    assert header["kid"] != f"{name}-v2"


def test_explicit_kid_wins(openbao: OpenBaoServer, session: VaultSession) -> None:
    """A kid given by the user is put in the header as is."""
    signer = TransitSigner(session, f"transit/{_key(openbao, 'rsa-2048')}", kid="registered-1")
    header = jwt.get_unverified_header(build_client_assertion(signer, client_id="c", audience=AUD))
    assert header["kid"] == "registered-1"


def test_transit_signer_is_an_assertion_signer(
    openbao: OpenBaoServer, session: VaultSession
) -> None:
    """TransitSigner satisfies the AssertionSigner protocol."""
    assert isinstance(TransitSigner(session, _key(openbao, "rsa-2048")), AssertionSigner)


def test_missing_transit_key_is_a_clear_error(session: VaultSession) -> None:
    """Signing with a key that does not exist raises SecretNotFoundError naming it."""
    signer = TransitSigner(session, "transit/does-not-exist")
    with pytest.raises(_errors.SecretNotFoundError, match=r"does-not-exist.*bao write -f"):
        build_client_assertion(signer, client_id="c", audience=AUD)


def test_wrong_key_type_is_key_format_error(openbao: OpenBaoServer, session: VaultSession) -> None:
    """An RSA Transit key with ES256 raises KeyFormatError naming both."""
    signer = TransitSigner(session, f"transit/{_key(openbao, 'rsa-2048')}", alg="ES256")
    with pytest.raises(_errors.KeyFormatError, match=r"rsa-2048.*ES256 needs ecdsa-p256"):
        signer.sign(b"a.b")


def test_sign_only_policy_is_enough(openbao: OpenBaoServer) -> None:
    """A policy allowing only transit/sign/<key> and transit/keys/<key> read can sign."""
    name = _key(openbao, "rsa-2048")
    policy = (
        f'path "transit/sign/{name}" {{ capabilities = ["update"] }}\n'
        f'path "transit/keys/{name}" {{ capabilities = ["read"] }}\n'
    )
    role_id, secret_id = openbao.create_approle(f"signer-{name}", policy_hcl=policy)
    from vendorgate._secret import Secret

    signer_session = VaultSession(
        openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    )
    signer = TransitSigner(signer_session, f"transit/{name}")
    token = build_client_assertion(signer, client_id="c", audience=AUD)
    jwt.decode(token, signer.public_key_pem(), algorithms=["RS256"], audience=AUD)


def test_sign_denied_is_permission_error(openbao: OpenBaoServer) -> None:
    """Without update on transit/sign/<key>, signing raises VaultPermissionError."""
    name = _key(openbao, "rsa-2048")
    policy = f'path "transit/keys/{name}" {{ capabilities = ["read"] }}\n'
    role_id, secret_id = openbao.create_approle(f"nosign-{name}", policy_hcl=policy)
    from vendorgate._secret import Secret

    s = VaultSession(
        openbao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
    )
    with pytest.raises(_errors.VaultPermissionError, match=f"transit key transit/sign/{name}"):
        TransitSigner(s, f"transit/{name}").sign(b"a.b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("transit/k", ("transit", "k")),
        ("k", ("transit", "k")),
        ("team/transit/k", ("team/transit", "k")),
        ("transit/keys/k", ("transit", "k")),
    ],
)
def test_parse_transit_key(text: str, expected: tuple[str, str]) -> None:
    """'<mount>/<name>' splits on the last slash; a bare name uses mount transit."""
    assert parse_transit_key(text) == expected


@pytest.mark.parametrize("text", ["transit/", "", "a//k"])
def test_bad_transit_key_is_configuration_error(text: str) -> None:
    """A transit key without a name or with an empty segment names transit_key."""
    with pytest.raises(_errors.ConfigurationError, match=r"^transit_key: "):
        parse_transit_key(text)


def test_sandbox_techwolf_accepts_transit_signed_assertion(
    openbao: OpenBaoServer, session: VaultSession, sandbox: VendorSandbox
) -> None:
    """The sandbox's TechWolf endpoint exchanges a Transit-signed assertion for a token."""
    signer = TransitSigner(session, f"transit/{_key(openbao, 'rsa-2048')}")
    client_id = f"tw-transit-{uuid.uuid4().hex[:8]}"
    sandbox.add_client("techwolf-eu", client_id, public_key_pem=signer.public_key_pem())
    token_url = sandbox.token_url("techwolf-eu")
    assertion = build_client_assertion(signer, client_id=client_id, audience=token_url)
    reply = httpx.post(
        token_url,
        json={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
            "audience": sandbox.audience("techwolf-eu"),
            "tenant": "acme",
        },
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["access_token"]
    assert reply.json()["expires_in"] > 0


def test_transit_key_registered_by_thumbprint_is_accepted(
    openbao: OpenBaoServer, session: VaultSession, sandbox: VendorSandbox
) -> None:
    """A vendor that registered the Transit public key as a JWKS accepts the default kid."""
    from vendorgate.dialects import get_dialect
    from vendorgate.tokens import TokenConfig, TokenFetcher

    name = _key(openbao, "rsa-2048")
    signer = TransitSigner(session, f"transit/{name}")
    client_id = f"oauth2-transit-{uuid.uuid4().hex[:8]}"
    # What "vendorgate jwk" prints is what the vendor registers: keys by kid.
    sandbox.add_client("oauth2", client_id, public_jwks={"keys": [signer.public_jwk()]})
    config = TokenConfig(
        dialect=get_dialect("oauth2-private-key-jwt"),
        client_id=client_id,
        token_url=sandbox.token_url("oauth2"),
        transit_key=f"transit/{name}",
        vault=openbao.settings(),
    )
    assert TokenFetcher(config).fetch().access_token


def test_legacy_name_version_kid_is_refused_by_a_jwks_registration(
    openbao: OpenBaoServer, session: VaultSession, sandbox: VendorSandbox
) -> None:
    """The sandbox is as strict as a real server: an unknown kid gets 401 no applicable key."""
    name = _key(openbao, "rsa-2048")
    signer = TransitSigner(session, f"transit/{name}", kid=f"{name}-v1")
    client_id = f"oauth2-legacy-{uuid.uuid4().hex[:8]}"
    jwks = {"keys": [TransitSigner(session, f"transit/{name}").public_jwk()]}
    sandbox.add_client("oauth2", client_id, public_jwks=jwks)
    token_url = sandbox.token_url("oauth2")
    reply = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": build_client_assertion(
                signer, client_id=client_id, audience=token_url
            ),
        },
        timeout=10,
    )
    assert reply.status_code == 401
    assert "no applicable key" in reply.text
