"""Shared helpers for the vendor sandbox tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain httpx client, as a user's own code would use."""
    with httpx.Client(timeout=10.0) as client:
        yield client


def _pems(key: Any) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="session")
def rsa_pems() -> tuple[str, str]:
    """A fresh RSA key pair (private PEM, public PEM)."""
    return _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def ec_pems() -> tuple[str, str]:
    """A fresh EC P-256 key pair (private PEM, public PEM)."""
    return _pems(ec.generate_private_key(ec.SECP256R1()))


def _make_assertion(
    private_pem: str, client_id: str, audience: str, *, alg: str = "RS256", **overrides: Any
) -> str:
    """A private_key_jwt client assertion as the TechWolf document describes it."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private_pem, algorithm=alg)


@pytest.fixture
def make_assertion() -> Any:
    """Factory for private_key_jwt client assertions (see ``_make_assertion``)."""
    return _make_assertion
