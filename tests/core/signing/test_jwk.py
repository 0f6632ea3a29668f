"""Public keys as JWKs with RFC 7638 thumbprints, the kid vendors register keys by."""

from __future__ import annotations

import jwt
import pytest

from vendorgate import KeyFormatError
from vendorgate._secret import Secret
from vendorgate.signing import PemSigner, build_client_assertion, jwk_thumbprint, public_jwk

RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE"
    "CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
    "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    """The thumbprint is computed exactly as RFC 7638 section 3.1 shows."""
    jwk = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("pem_name", ["rsa_pem", "ec_pem"])
def test_public_jwk_round_trips_through_pyjwt(
    pem_name: str, request: pytest.FixtureRequest
) -> None:
    """The printed JWK verifies assertions signed by the matching private key."""
    pem: Secret = request.getfixturevalue(pem_name)
    alg = "RS256" if pem_name == "rsa_pem" else "ES256"
    signer = PemSigner(pem, alg=alg, kid="thumbprint")
    jwk = signer.public_jwk()
    assert jwk["kid"] == jwk_thumbprint(jwk)
    token = build_client_assertion(signer, client_id="c", audience="https://a.test/token")
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    key = jwt.PyJWK(jwk).key
    assert jwt.decode(token, key, algorithms=[alg], audience="https://a.test/token")["iss"] == "c"


def test_pem_signer_kid_stays_absent_unless_asked(rsa_pem: Secret) -> None:
    """A PEM key adds no kid by default; an explicit kid wins over the thumbprint."""
    assert PemSigner(rsa_pem).kid is None
    assert PemSigner(rsa_pem, kid="registered-7").kid == "registered-7"


def test_public_jwk_of_a_non_key_is_a_key_format_error() -> None:
    """Handing the command a private key or garbage says what was expected."""
    with pytest.raises(KeyFormatError, match="PUBLIC KEY"):
        public_jwk("not a key")


@pytest.mark.slow
def test_pem_key_registered_by_thumbprint_is_accepted(rsa_pem: Secret, sandbox) -> None:
    """signing_kid = "thumbprint" makes a JWKS-registered PEM key acceptable to the vendor."""
    import uuid

    from vendorgate.dialects import get_dialect
    from vendorgate.tokens import TokenConfig, TokenFetcher

    client_id = f"oauth2-pem-{uuid.uuid4().hex[:8]}"
    jwks = {"keys": [PemSigner(rsa_pem, kid="thumbprint").public_jwk()]}
    sandbox.add_client("oauth2", client_id, public_jwks=jwks)
    config = TokenConfig(
        dialect=get_dialect("oauth2-private-key-jwt"),
        client_id=client_id,
        token_url=sandbox.token_url("oauth2"),
        private_key="literal:" + rsa_pem.reveal(),
        signing_kid="thumbprint",
    )
    assert TokenFetcher(config).fetch().access_token
