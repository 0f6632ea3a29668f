"""PemSigner: local private_key_jwt signing with a PEM held in memory."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from vendorgate import _errors
from vendorgate._secret import Secret
from vendorgate.signing import AssertionSigner, PemSigner, build_client_assertion

AUD = "https://techwolf.eu.auth0.com/oauth/token"


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_assertion_verifies_with_public_key(alg: str, rsa_key: Any, rsa_pem: Secret) -> None:
    """An RS256/PS256 assertion verifies with PyJWT and the RSA public key."""
    signer = PemSigner(rsa_pem, alg=alg)
    token = build_client_assertion(signer, client_id="cid", audience=AUD)
    claims = jwt.decode(token, rsa_key.public_key(), algorithms=[alg], audience=AUD)
    assert claims["iss"] == claims["sub"] == "cid"


def test_es256_assertion_is_raw_r_s_and_verifies(ec_key: Any, ec_pem: Secret) -> None:
    """An ES256 signature is the 64-byte JOSE r||s form and verifies with PyJWT."""
    signer = PemSigner(ec_pem, alg="ES256")
    assert len(signer.sign(b"x.y")) == 64
    token = build_client_assertion(signer, client_id="cid", audience=AUD)
    jwt.decode(token, ec_key.public_key(), algorithms=["ES256"], audience=AUD)


def test_public_key_pem_matches(rsa_key: Any, rsa_pem: Secret) -> None:
    """public_key_pem() is the public half of the configured private key, not just any key."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    signer = PemSigner(rsa_pem)
    registered = load_pem_public_key(signer.public_key_pem().encode())
    assert registered.public_numbers() == rsa_key.public_key().public_numbers()  # type: ignore[union-attr]
    token = build_client_assertion(signer, client_id="cid", audience=AUD)
    jwt.decode(token, rsa_key.public_key(), algorithms=["RS256"], audience=AUD)


def test_ec_public_key_pem_matches(ec_key: Any, ec_pem: Secret) -> None:
    """For an EC key too, public_key_pem() is the public half of the configured key."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    signer = PemSigner(ec_pem, alg="ES256")
    registered = load_pem_public_key(signer.public_key_pem().encode())
    assert registered.public_numbers() == ec_key.public_key().public_numbers()  # type: ignore[union-attr]


def test_assertion_header_names_alg_and_kid(rsa_key: Any, rsa_pem: Secret) -> None:
    """The assertion's header says the algorithm and the kid the vendor looks the key up by."""
    signer = PemSigner(rsa_pem, alg="PS256", kid="key-2024")
    token = build_client_assertion(signer, client_id="cid", audience=AUD)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("PS256", "key-2024")
    jwt.decode(token, rsa_key.public_key(), algorithms=["PS256"], audience=AUD)


def test_pem_signer_is_an_assertion_signer(rsa_pem: Secret) -> None:
    """PemSigner satisfies the AssertionSigner protocol."""
    assert isinstance(PemSigner(rsa_pem, kid="k"), AssertionSigner)


def test_repr_shows_no_key(rsa_pem: Secret) -> None:
    """repr of a signer never shows key material."""
    text = repr(PemSigner(rsa_pem, kid="k1"))
    assert "PRIVATE" not in text
    assert "k1" in text


def _assert_clean(exc: BaseException, pem: Secret) -> None:
    body = pem.reveal().splitlines()[1]
    assert body not in str(exc)
    assert "BEGIN" not in str(exc).split("'-----BEGIN")[0]


def test_malformed_pem_is_key_format_error(rsa_pem: Secret) -> None:
    """A truncated PEM raises KeyFormatError saying it is malformed, with no key material."""
    lines = rsa_pem.reveal().splitlines()
    broken = Secret("\n".join(lines[:5] + lines[-1:]))
    with pytest.raises(_errors.KeyFormatError, match="malformed") as info:
        PemSigner(broken)
    _assert_clean(info.value, rsa_pem)


def test_not_a_pem_is_key_format_error() -> None:
    """Text that is not a PEM at all raises KeyFormatError and does not echo it."""
    with pytest.raises(_errors.KeyFormatError, match="not a PEM private key") as info:
        PemSigner(Secret("sk_live_pasted_client_secret"))
    assert "sk_live" not in str(info.value)


def test_public_key_given_instead_of_private(rsa_pem: Secret) -> None:
    """Passing the public key says so."""
    signer = PemSigner(rsa_pem)
    with pytest.raises(_errors.KeyFormatError, match="public key"):
        PemSigner(Secret(signer.public_key_pem()))


def test_encrypted_pem_without_passphrase(rsa_key: Any) -> None:
    """An encrypted PEM without a passphrase raises KeyFormatError asking for it."""
    from cryptography.hazmat.primitives import serialization as s

    pem = rsa_key.private_bytes(
        s.Encoding.PEM, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(b"pw")
    ).decode()
    with pytest.raises(_errors.KeyFormatError, match="encrypted; give its passphrase"):
        PemSigner(Secret(pem))
    assert PemSigner(Secret(pem), passphrase=Secret("pw")).alg == "RS256"
    with pytest.raises(_errors.KeyFormatError, match="passphrase"):
        PemSigner(Secret(pem), passphrase=Secret("wrong"))


def test_ec_key_for_rs256_is_wrong_type(ec_pem: Secret) -> None:
    """An EC key with RS256 raises KeyFormatError naming both types."""
    with pytest.raises(_errors.KeyFormatError, match="RS256 needs an RSA key but this is a EC"):
        PemSigner(ec_pem, alg="RS256")


def test_rsa_key_for_es256_is_wrong_type(rsa_pem: Secret) -> None:
    """An RSA key with ES256 raises KeyFormatError."""
    with pytest.raises(_errors.KeyFormatError, match="ES256 needs a P-256"):
        PemSigner(rsa_pem, alg="ES256")


def test_p384_key_for_es256_is_wrong_type() -> None:
    """ES256 accepts only P-256 keys."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
    with pytest.raises(_errors.KeyFormatError, match="secp384r1"):
        PemSigner(Secret(pem), alg="ES256")


def test_short_rsa_key_rejected() -> None:
    """RSA keys under 2048 bits are refused."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
    with pytest.raises(_errors.KeyFormatError, match="too short"):
        PemSigner(Secret(pem))


def test_unsupported_alg_is_configuration_error(rsa_pem: Secret) -> None:
    """An unknown alg raises ConfigurationError naming the field alg."""
    with pytest.raises(_errors.ConfigurationError, match=r"^alg: "):
        PemSigner(rsa_pem, alg="HS256")
