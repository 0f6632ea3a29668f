"""Public keys as JWKs, and their RFC 7638 thumbprints (the ``kid`` vendors expect).

An authorization server that registered a client's public key (as a JWKS, or by
uploading a PEM that it turns into one) usually knows the key by its JWK thumbprint
(RFC 7638): ``base64url(SHA-256(canonical JSON of the key's required members))``. That
is the default ``kid`` of assertions signed by Vault Transit, and what
``signing_kid = "thumbprint"`` puts in the header of assertions signed with a PEM key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import KeyFormatError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KID_THUMBPRINT", "jwk_thumbprint", "public_jwk", "public_jwks"]

#: ``signing_kid`` value asking for the RFC 7638 thumbprint of the public key.
KID_THUMBPRINT: Final = "thumbprint"

# RFC 7638 section 3.2: the required members of each key type, in lexicographic order.
_REQUIRED: Final = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


def _b64url_uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode("ascii")


def _load_public(public_key: Any) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = public_key
    if isinstance(public_key, str):
        try:
            key = load_pem_public_key(public_key.strip().encode())
        except (ValueError, TypeError):
            raise KeyFormatError(
                "not a PEM public key; expected a block starting '-----BEGIN PUBLIC KEY-----'"
            ) from None
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        key = key.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return key
    raise KeyFormatError("unsupported public key: use an RSA or EC P-256 key")


def public_jwk(
    public_key: Any, *, alg: str | None = None, kid: str | None = None
) -> dict[str, str]:
    """Return the public JWK of ``public_key`` with its ``kid`` (default: the thumbprint).

    Args:
        public_key: A PEM public key (``-----BEGIN PUBLIC KEY-----``), or a
            ``cryptography`` RSA / EC P-256 public or private key.
        alg: ``alg`` member to add (e.g. ``"RS256"``), if any.
        kid: ``kid`` member; default: :func:`jwk_thumbprint` of the key.

    Raises:
        KeyFormatError: Not a PEM public key, or not an RSA / P-256 key.
    """
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = _load_public(public_key)
    jwk: dict[str, str]
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        jwk = {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}
    else:
        point = key.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url_uint(point.x, 32),
            "y": _b64url_uint(point.y, 32),
        }
    jwk["use"] = "sig"
    if alg is not None:
        jwk["alg"] = alg
    jwk["kid"] = kid if kid is not None else jwk_thumbprint(jwk)
    return jwk


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 JWK thumbprint of an RSA or EC public JWK (base64url).

    Example:
        >>> jwk_thumbprint({"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXE"
        ...     "ps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        ...     "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaS"
        ...     "qzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM"
        ...     "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"})
        'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
    """
    kty = jwk.get("kty")
    members = _REQUIRED.get(str(kty))
    if members is None:
        raise KeyFormatError(f"cannot take the thumbprint of a {kty!r} key; use RSA or EC")
    canonical = {name: jwk[name] for name in members}
    text = json.dumps(canonical, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def public_jwks(
    public_key: Any, *, alg: str | None = None, kid: str | None = None
) -> dict[str, Any]:
    """``{"keys": [public_jwk(...)]}``: the JWKS to hand to a vendor."""
    return {"keys": [public_jwk(public_key, alg=alg, kid=kid)]}
