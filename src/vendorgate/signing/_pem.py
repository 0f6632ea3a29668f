"""Sign client assertions with a PEM private key held in memory only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError, KeyFormatError
from vendorgate._secret import Secret
from vendorgate.signing._jwk import KID_THUMBPRINT, jwk_thumbprint, public_jwk
from vendorgate.signing._protocol import SUPPORTED_ALGORITHMS

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["PemSigner", "check_alg"]

MIN_RSA_BITS = 2048


def check_alg(alg: str) -> str:
    """Return ``alg`` if vendorgate can sign with it, else raise ``ConfigurationError``."""
    if alg not in SUPPORTED_ALGORITHMS:
        raise ConfigurationError(
            f"unsupported signing algorithm; use one of {', '.join(SUPPORTED_ALGORITHMS)}",
            field="alg",
        )
    return alg


class PemSigner:
    """An :class:`~vendorgate.signing.AssertionSigner` over a PEM private key.

    The key is parsed once, kept in memory only (never written to disk) and never shown
    by ``repr``. Resolve the PEM from a secret reference first, e.g.
    ``default_resolver().resolve("vault:secret/vendors/techwolf#private_key", field=...)``.

    Args:
        private_key: The PEM text (PKCS#8 or traditional RSA/EC) as a ``Secret``.
        alg: ``"RS256"`` (default), ``"PS256"`` (RSA keys) or ``"ES256"`` (P-256 keys).
        kid: Key id for the JWS header, when the vendor registered one; ``"thumbprint"``
            puts the RFC 7638 JWK thumbprint of the public key there (what vendors that
            register a JWKS usually know the key by). Default: no ``kid``.
        passphrase: The passphrase of an encrypted PEM.

    Raises:
        KeyFormatError: The PEM is malformed, encrypted without a passphrase (or with a
            wrong one), or its key type does not fit ``alg``. No key material is shown.
        ConfigurationError: ``alg`` is not supported.
    """

    def __init__(
        self,
        private_key: Secret,
        *,
        alg: str = "RS256",
        kid: str | None = None,
        passphrase: Secret | None = None,
    ) -> None:
        self._alg = check_alg(alg)
        self._key = _load_key(private_key, alg=alg, passphrase=passphrase)
        if kid == KID_THUMBPRINT:
            kid = jwk_thumbprint(public_jwk(self._key))
        self._kid = kid

    @property
    def alg(self) -> str:
        """The JOSE algorithm."""
        return self._alg

    @property
    def kid(self) -> str | None:
        """The key id for the JWS header, or ``None``."""
        return self._kid

    def __repr__(self) -> str:
        return f"PemSigner(alg={self._alg!r}, kid={self._kid!r})"

    def sign(self, signing_input: bytes) -> bytes:
        """Return the raw JOSE signature of ``signing_input``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            r, s = utils.decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        pad: Any
        if self._alg == "PS256":
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        else:
            pad = padding.PKCS1v15()
        return key.sign(signing_input, pad, hashes.SHA256())

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK, ``kid`` = this signer's kid or else the thumbprint."""
        return public_jwk(self._key, alg=self._alg, kid=self._kid)

    def public_key_pem(self) -> str:
        """The matching public key (SubjectPublicKeyInfo PEM) to register with the vendor."""
        from cryptography.hazmat.primitives import serialization

        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )


def _load_key(
    private_key: Secret, *, alg: str, passphrase: Secret | None
) -> RSAPrivateKey | EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if not isinstance(private_key, Secret):
        raise TypeError("private_key must be a vendorgate Secret (the PEM text)")
    text = private_key.reveal().strip()
    if "-----BEGIN" not in text or "PRIVATE KEY-----" not in text:
        hint = (
            " (this is a public key or certificate; give the private key)"
            if "PUBLIC KEY" in text or "CERTIFICATE" in text
            else ""
        )
        raise KeyFormatError(
            f"private_key: not a PEM private key{hint}; expected a block starting "
            "'-----BEGIN PRIVATE KEY-----' (PKCS#8) or '-----BEGIN RSA/EC PRIVATE KEY-----'"
        )
    password = passphrase.reveal().encode() if passphrase is not None else None
    try:
        key = load_pem_private_key(text.encode(), password=password)
    except TypeError:
        if password is None:
            raise KeyFormatError(
                "private_key: the PEM is encrypted; give its passphrase, or store an "
                "unencrypted PKCS#8 key in Vault"
            ) from None
        raise KeyFormatError(
            "private_key: a passphrase was given but the PEM is not encrypted; drop it"
        ) from None
    except ValueError:
        if password is not None:
            raise KeyFormatError(
                "private_key: cannot decrypt or parse the PEM; check the passphrase and that "
                "the key is complete"
            ) from None
        raise KeyFormatError(
            "private_key: the PEM is malformed (truncated, altered, or not a key); export it "
            "again, e.g. `openssl pkcs8 -topk8 -nocrypt -in key.pem`"
        ) from None
    except Exception:  # cryptography UnsupportedAlgorithm and friends
        raise KeyFormatError(
            "private_key: unsupported key type; use an RSA (RS256/PS256) or P-256 (ES256) key"
        ) from None
    if alg in ("RS256", "PS256"):
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyFormatError(
                f"private_key: {alg} needs an RSA key but this is a {_kind(key)} key; use an RSA "
                "key or set alg='ES256' for a P-256 key"
            )
        if key.key_size < MIN_RSA_BITS:
            raise KeyFormatError(
                f"private_key: RSA key of {key.key_size} bits is too short; use at least "
                f"{MIN_RSA_BITS} bits"
            )
        return key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFormatError(
            f"private_key: ES256 needs a P-256 (secp256r1) EC key but this is a {_kind(key)} "
            "key; use a P-256 key or set alg='RS256' for an RSA key"
        )
    return key


def _kind(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.lstrip("_").replace("PrivateKey", "")
