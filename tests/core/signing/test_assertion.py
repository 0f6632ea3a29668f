"""build_client_assertion: RFC 7523 claims, header and validation."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from vendorgate import _errors
from vendorgate._secret import Secret
from vendorgate.signing import PemSigner, build_client_assertion

AUD = "https://techwolf.eu.auth0.com/oauth/token"


@pytest.fixture(scope="module")
def signer(rsa_pem: Secret) -> PemSigner:
    return PemSigner(rsa_pem, kid="tw-key-1")


def test_claims_follow_rfc_7523(signer: PemSigner, rsa_key: Any) -> None:
    """iss = sub = client id, aud = token URL, iat = now, exp = now + lifetime."""
    token = build_client_assertion(
        signer, client_id="cid", audience=AUD, lifetime_s=420, now=1_700_000_000
    )
    claims = jwt.decode(
        token,
        rsa_key.public_key(),
        algorithms=["RS256"],
        audience=AUD,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == "cid"
    assert claims["sub"] == "cid"
    assert claims["aud"] == AUD
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_420
    assert len(claims["jti"]) >= 16


def test_default_lifetime_is_five_minutes(signer: PemSigner) -> None:
    """Without lifetime_s, exp is 300 s after iat."""
    claims = jwt.decode(
        build_client_assertion(signer, client_id="c", audience=AUD),
        options={"verify_signature": False},
    )
    assert claims["exp"] - claims["iat"] == 300


def test_header_carries_alg_typ_and_kid(signer: PemSigner) -> None:
    """The JWS header names alg, typ JWT and the signer's kid."""
    header = jwt.get_unverified_header(build_client_assertion(signer, client_id="c", audience=AUD))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "tw-key-1"}


def test_no_kid_header_when_unknown(rsa_pem: Secret) -> None:
    """A signer without kid produces a header without kid."""
    token = build_client_assertion(PemSigner(rsa_pem), client_id="c", audience=AUD)
    assert "kid" not in jwt.get_unverified_header(token)


def test_ten_thousand_assertions_have_distinct_jti() -> None:
    """No two of 10,000 assertions share a jti."""

    class NullSigner:
        alg = "RS256"
        kid = None

        def sign(self, signing_input: bytes) -> bytes:
            return b"sig"

    jtis = {
        jwt.decode(
            build_client_assertion(NullSigner(), client_id="c", audience=AUD),
            options={"verify_signature": False},
        )["jti"]
        for _ in range(10_000)
    }
    assert len(jtis) == 10_000


@pytest.mark.parametrize("lifetime_s", [59, 601, 0, -5, 300.5, True])
def test_lifetime_out_of_range_is_configuration_error(signer: PemSigner, lifetime_s: Any) -> None:
    """A lifetime outside 60..600 whole seconds raises ConfigurationError naming lifetime_s."""
    with pytest.raises(_errors.ConfigurationError, match=r"^lifetime_s: "):
        build_client_assertion(signer, client_id="c", audience=AUD, lifetime_s=lifetime_s)


@pytest.mark.parametrize("lifetime_s", [60, 600])
def test_lifetime_bounds_are_accepted(signer: PemSigner, lifetime_s: int) -> None:
    """60 and 600 seconds are both allowed."""
    token = build_client_assertion(signer, client_id="c", audience=AUD, lifetime_s=lifetime_s)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == lifetime_s


@pytest.mark.parametrize(
    ("field", "kwargs"), [("client_id", {"client_id": ""}), ("audience", {"audience": " "})]
)
def test_empty_client_id_or_audience(signer: PemSigner, field: str, kwargs: dict[str, str]) -> None:
    """An empty client_id or audience raises ConfigurationError naming it."""
    args = {"client_id": "c", "audience": AUD, **kwargs}
    with pytest.raises(_errors.ConfigurationError, match=rf"^{field}: "):
        build_client_assertion(signer, **args)
