"""Client assertions for ``private_key_jwt`` (RFC 7523), signed locally or inside Vault.

Two signers behind one :class:`AssertionSigner` interface: :class:`PemSigner` (a PEM key
held in memory) and :class:`TransitSigner` (Vault Transit signs; the key never leaves
Vault — the recommended setup). :func:`build_client_assertion` assembles the JWT.
Importing this package is cheap: cryptography and hvac load on first use.
"""

from __future__ import annotations

from vendorgate.signing._assertion import (
    CLIENT_ASSERTION_TYPE,
    MAX_LIFETIME_S,
    MIN_LIFETIME_S,
    build_client_assertion,
)
from vendorgate.signing._jwk import KID_THUMBPRINT, jwk_thumbprint, public_jwk, public_jwks
from vendorgate.signing._pem import PemSigner
from vendorgate.signing._protocol import SUPPORTED_ALGORITHMS, AssertionSigner
from vendorgate.signing._transit import TransitSigner, parse_transit_key

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "KID_THUMBPRINT",
    "MAX_LIFETIME_S",
    "MIN_LIFETIME_S",
    "SUPPORTED_ALGORITHMS",
    "AssertionSigner",
    "PemSigner",
    "TransitSigner",
    "build_client_assertion",
    "jwk_thumbprint",
    "parse_transit_key",
    "public_jwk",
    "public_jwks",
]
