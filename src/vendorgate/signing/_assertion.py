"""Build RFC 7523 client assertions (``private_key_jwt``)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from vendorgate.signing._protocol import AssertionSigner

__all__ = ["CLIENT_ASSERTION_TYPE", "MAX_LIFETIME_S", "MIN_LIFETIME_S", "build_client_assertion"]

#: The ``client_assertion_type`` value that goes with a JWT client assertion.
CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MIN_LIFETIME_S: Final = 60
MAX_LIFETIME_S: Final = 600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def build_client_assertion(
    signer: AssertionSigner,
    *,
    client_id: str,
    audience: str,
    lifetime_s: int = 300,
    now: float | None = None,
) -> str:
    """Build and sign a client assertion JWT.

    Claims: ``iss`` = ``sub`` = ``client_id``, ``aud`` = ``audience`` (usually the token
    URL), ``iat`` = now, ``exp`` = now + ``lifetime_s``, and a fresh random ``jti``
    (128 bits, URL-safe). The header carries ``alg``, ``typ: JWT`` and ``kid`` when the
    signer knows one.

    Args:
        signer: A :class:`PemSigner`, :class:`TransitSigner` or any ``AssertionSigner``.
        client_id: The OAuth client id.
        audience: The ``aud`` claim, normally the vendor's token URL.
        lifetime_s: Seconds until ``exp``, from 60 to 600 (default 300).
        now: Unix time to use as ``iat`` (default: the current time).

    Returns:
        The compact JWS ``header.payload.signature``.

    Raises:
        ConfigurationError: An empty ``client_id`` / ``audience`` or a lifetime out of range.
    """
    if not isinstance(client_id, str) or not client_id.strip():
        raise ConfigurationError("must be a non-empty string", field="client_id")
    if not isinstance(audience, str) or not audience.strip():
        raise ConfigurationError(
            "must be a non-empty string, normally the token URL", field="audience"
        )
    if (
        isinstance(lifetime_s, bool)
        or not isinstance(lifetime_s, int)
        or not MIN_LIFETIME_S <= lifetime_s <= MAX_LIFETIME_S
    ):
        raise ConfigurationError(
            f"must be whole seconds from {MIN_LIFETIME_S} to {MAX_LIFETIME_S} (1 to 10 minutes)",
            field="lifetime_s",
        )
    issued = int(time.time() if now is None else now)
    header: dict[str, Any] = {"alg": signer.alg, "typ": "JWT"}
    kid = signer.kid
    if kid:
        header["kid"] = kid
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime_s,
        "jti": secrets.token_urlsafe(16),
    }
    signing_input = f"{_b64url(_json(header))}.{_b64url(_json(payload))}"
    signature = signer.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64url(signature)}"
