"""Sign client assertions inside Vault Transit: the private key never leaves Vault."""

from __future__ import annotations

import base64
import threading
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import ConfigurationError, KeyFormatError, VaultUnavailableError
from vendorgate.signing._jwk import KID_THUMBPRINT, jwk_thumbprint, public_jwk
from vendorgate.signing._pem import check_alg

if TYPE_CHECKING:
    from vendorgate.secrets import VaultSession

__all__ = ["TransitSigner", "parse_transit_key"]

# JOSE alg -> (Transit key types that fit, signature_algorithm, marshaling_algorithm)
_ALG_PARAMS: Final[dict[str, tuple[tuple[str, ...], str | None, str | None]]] = {
    "RS256": (("rsa-2048", "rsa-3072", "rsa-4096"), "pkcs1v15", None),
    "PS256": (("rsa-2048", "rsa-3072", "rsa-4096"), "pss", None),
    "ES256": (("ecdsa-p256",), None, "jws"),
}


def parse_transit_key(key: str) -> tuple[str, str]:
    """Split ``"<mount>/<name>"`` (or a bare ``"<name>"`` on mount ``transit``).

    Raises:
        ConfigurationError: ``key`` is empty or has an empty segment.
    """
    text = key.strip() if isinstance(key, str) else ""
    if text.endswith("/"):
        text = ""  # "transit/" names a mount but no key
    text = text.lstrip("/")
    if text.startswith("keys/") or "/keys/" in text:
        text = text.replace("/keys/", "/").removeprefix("keys/")
    mount, _, name = text.rpartition("/")
    mount = mount or "transit"
    if not name or not all(mount.split("/")):
        raise ConfigurationError(
            "must be '<mount>/<key name>', e.g. 'transit/techwolf-assertions'",
            field="transit_key",
        )
    return mount, name


class TransitSigner:
    """An :class:`~vendorgate.signing.AssertionSigner` backed by Vault Transit.

    The signing input goes to ``<mount>/sign/<name>`` (``hash_algorithm=sha2-256``,
    ``prehashed=false``; ``signature_algorithm=pkcs1v15`` for RS256, ``pss`` with
    ``salt_length=hash`` for PS256, ``marshaling_algorithm=jws`` for ES256) and Vault's
    ``vault:v<N>:<base64>`` reply is turned into the raw JOSE signature.

    On first use the signer reads the key once (``<mount>/keys/<name>``), checks its type
    fits ``alg`` and pins its latest version, so the ``kid`` and the signature always
    match; build a new signer after rotating the key. The default ``kid`` is the RFC 7638
    JWK thumbprint of that version's public key, the id an authorization server that
    registered the key (e.g. from ``vendorgate jwk``) knows it by; an explicit ``kid``
    wins (``"<name>-v<version>"`` was the default before 0.2: give it explicitly to keep
    it).

    Args:
        session: The :class:`~vendorgate.secrets.VaultSession` to sign through.
        key: ``"<mount>/<name>"``, e.g. ``"transit/techwolf-assertions"``.
        alg: ``"RS256"`` (default), ``"PS256"`` or ``"ES256"``.
        kid: Key id for the JWS header; default (or ``"thumbprint"``): the RFC 7638
            thumbprint of the pinned version's public key.

    Raises:
        ConfigurationError: ``key`` or ``alg`` is invalid.
    """

    def __init__(
        self,
        session: VaultSession,
        key: str = "transit/vendorgate",
        *,
        alg: str = "RS256",
        kid: str | None = None,
    ) -> None:
        self._alg = check_alg(alg)
        self.mount, self.name = parse_transit_key(key)
        self._session = session
        self._kid = kid
        self._version: int | None = None
        self._key_data: dict[str, Any] | None = None
        self._thumbprint: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TransitSigner(key={self.mount + '/' + self.name!r}, alg={self._alg!r})"

    @property
    def alg(self) -> str:
        """The JOSE algorithm."""
        return self._alg

    @property
    def kid(self) -> str | None:
        """The key id: the one given, else the public key's thumbprint (reads the key once)."""
        if self._kid is not None and self._kid != KID_THUMBPRINT:
            return self._kid
        if self._thumbprint is None:
            self._thumbprint = jwk_thumbprint(public_jwk(self.public_key_pem()))
        return self._thumbprint

    def public_jwk(self) -> dict[str, str]:
        """The pinned version's public key as a JWK with this signer's ``kid``."""
        return public_jwk(self.public_key_pem(), alg=self._alg, kid=self.kid)

    @property
    def key_version(self) -> int:
        """The pinned Transit key version (the latest when the signer first used the key)."""
        self._load()
        assert self._version is not None
        return self._version

    def _load(self) -> dict[str, Any]:
        with self._lock:
            if self._key_data is None:
                data = self._session.transit_read_key(self.mount, self.name)
                key_type = str(data.get("type"))
                allowed = _ALG_PARAMS[self._alg][0]
                if key_type not in allowed:
                    raise KeyFormatError(
                        f"transit_key: {self.mount}/{self.name} is a {key_type} key but "
                        f"{self._alg} needs {' or '.join(allowed)}; create a key of that type "
                        "or change alg"
                    )
                try:
                    self._version = int(data["latest_version"])
                except (KeyError, TypeError, ValueError):
                    raise VaultUnavailableError(
                        f"Vault returned no latest_version for transit key {self.name}"
                    ) from None
                self._key_data = data
            return self._key_data

    def sign(self, signing_input: bytes) -> bytes:
        """Have Vault sign ``signing_input``; return the raw JOSE signature.

        Raises:
            SecretNotFoundError: The Transit key does not exist.
            KeyFormatError: The key's type does not fit ``alg``.
            VaultPermissionError: The policy does not allow ``<mount>/sign/<name>``.
            VaultUnavailableError: Vault is sealed, unreachable or answered garbage.
        """
        self._load()
        _, signature_algorithm, marshaling = _ALG_PARAMS[self._alg]
        reply = self._session.transit_sign(
            self.mount,
            self.name,
            signing_input,
            key_version=self._version,
            signature_algorithm=signature_algorithm,
            marshaling_algorithm=marshaling,
            salt_length="hash" if self._alg == "PS256" else None,
        )
        return _decode_vault_signature(reply, marshaling_jws=marshaling == "jws")

    def public_key_pem(self) -> str:
        """The public key (PEM) of the pinned key version, to register with the vendor."""
        data = self._load()
        keys = data.get("keys") or {}
        entry = keys.get(str(self._version)) if isinstance(keys, dict) else None
        pem = entry.get("public_key") if isinstance(entry, dict) else None
        if not isinstance(pem, str) or "PUBLIC KEY" not in pem:
            raise VaultUnavailableError(
                f"Vault returned no public key for transit key {self.name} v{self._version}"
            )
        return pem


def _decode_vault_signature(value: str, *, marshaling_jws: bool) -> bytes:
    prefix, _, encoded = value.rpartition(":")
    if not prefix.startswith("vault:v") or not encoded:
        raise VaultUnavailableError("Vault Transit returned a signature in an unknown format")
    try:
        if marshaling_jws:
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise VaultUnavailableError(
            "Vault Transit returned a signature that is not base64"
        ) from None
