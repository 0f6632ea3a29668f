"""Keys generated once per session for the signing tests."""

from __future__ import annotations

import pytest

from vendorgate._secret import Secret


def _pem(key: object) -> Secret:
    from cryptography.hazmat.primitives import serialization as s

    return Secret(
        key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()  # type: ignore[attr-defined]
    )


@pytest.fixture(scope="session")
def rsa_key() -> object:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> object:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def rsa_pem(rsa_key: object) -> Secret:
    return _pem(rsa_key)


@pytest.fixture(scope="session")
def ec_pem(ec_key: object) -> Secret:
    return _pem(ec_key)
