"""What the five token endpoints share: OAuth 2.0 error bodies, body parsing, client checks.

Error bodies follow OAuth 2.0 (``{"error": ..., "error_description": ...}``) for every
vendor. Messages name the field at fault and never echo a secret.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any, Final

from vendorgate.testing.sandbox._http import BadRequest, Request
from vendorgate.testing.sandbox._state import Issued, SandboxState

if TYPE_CHECKING:
    from vendorgate.testing.sandbox._clients import SandboxClient

__all__ = [
    "JWT_BEARER",
    "MAX_ASSERTION_LIFETIME_S",
    "SKEW_S",
    "error",
    "issue_hs256",
    "json_body",
    "required_str",
    "secret_ok",
    "unverified_iss",
    "verify_assertion",
]

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SKEW_S: Final = 30
MAX_ASSERTION_LIFETIME_S: Final = 600


def error(
    status: int, error: str, description: str, headers: list[tuple[bytes, bytes]] | None = None
) -> BadRequest:
    """An OAuth 2.0 error reply (``error``, ``error_description``) to raise."""
    return BadRequest(status, {"error": error, "error_description": description}, headers)


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400 naming what is wrong."""
    if request.media_type != "application/json":
        raise error(
            400,
            "invalid_request",
            "Content-Type must be application/json with a JSON object body",
        )
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        raise error(400, "invalid_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise error(400, "invalid_request", "the body must be a JSON object")
    return body


def required_str(body: dict[str, Any], name: str) -> str:
    """A required non-empty string field of the body, or a 400 naming it."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise error(400, "invalid_request", f"Missing required parameter: {name}")
    return value


def secret_ok(client: SandboxClient | None, secret: object, method: str) -> bool:
    """Whether ``secret`` is the client's secret and ``method`` one of its methods."""
    if client is None or client.client_secret is None or method not in client.auth_methods:
        return False
    if not isinstance(secret, str):
        return False
    return hmac.compare_digest(secret.encode(), client.client_secret.encode())


def unverified_iss(assertion: object) -> str:
    """The ``iss`` of an assertion, unverified (only for counting), or ``""``."""
    import jwt

    if not isinstance(assertion, str):
        return ""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    iss = claims.get("iss")
    return iss if isinstance(iss, str) else ""


def verify_assertion(
    state: SandboxState,
    request: Request,
    vendor: str,
    assertion_type: object,
    assertion: object,
    claimed_client_id: object = None,
) -> SandboxClient:
    """Verify an RFC 7523 client assertion (private_key_jwt) and return its client."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if assertion_type != JWT_BEARER:
        raise error(400, "invalid_request", f"client_assertion_type must be {JWT_BEARER}")
    if not isinstance(assertion, str) or not assertion:
        raise error(400, "invalid_request", "Missing required parameter: client_assertion")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise error(400, "invalid_request", "client_assertion is not a JWT") from None
    iss = claims.get("iss")
    client = state.client(vendor, iss)
    if client is None or not client.has_key or "private_key_jwt" not in client.auth_methods:
        raise error(
            401, "invalid_client", "client_assertion: iss names no client with a registered key"
        )
    if claimed_client_id is not None and claimed_client_id != iss:
        raise error(401, "invalid_client", "client_id does not match the assertion's iss")
    key = client._key
    if client._keys_by_kid:
        # Registered as a JWKS: the assertion's kid picks the key, as vendors do.
        kid = header.get("kid")
        key = client._keys_by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise error(
                401,
                "invalid_client",
                f"client_assertion: no applicable key for kid {kid!r}; the client "
                f"registered {', '.join(sorted(client._keys_by_kid))}",
            )
    allowed: tuple[str, ...]
    if isinstance(key, rsa.RSAPublicKey):
        allowed = ("RS256", "PS256")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        allowed = ("ES256",)
    else:
        allowed = ()
    alg = header.get("alg")
    if alg not in allowed:
        raise error(
            401,
            "invalid_client",
            f"client_assertion: alg must be one of {', '.join(allowed)} for the registered key",
        )
    try:
        verified = jwt.decode(
            assertion,
            key,
            algorithms=[str(alg)],
            audience=request.url,
            options={
                "require": ["iss", "sub", "aud", "exp", "iat", "jti"],
                # Time claims are judged below by the vendor's clock (state.now()).
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise error(
            401, "invalid_client", f"client_assertion: aud must be the token URL {request.url}"
        ) from None
    except jwt.InvalidTokenError as exc:
        raise error(401, "invalid_client", f"client_assertion rejected: {exc}") from None
    now = state.now()
    if verified.get("sub") != iss:
        raise error(401, "invalid_client", "client_assertion: sub must equal iss (the client id)")
    iat, exp = verified["iat"], verified["exp"]
    if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)):
        raise error(401, "invalid_client", "client_assertion: iat and exp must be numbers")
    if iat > now + SKEW_S:
        raise error(
            401,
            "invalid_client",
            f"client_assertion: iat is {iat - now:.0f} s in the future by the server's clock; "
            "check the client's clock",
        )
    if exp <= now - SKEW_S:
        raise error(
            401,
            "invalid_client",
            f"client_assertion: expired {now - exp:.0f} s ago by the server's clock; "
            "check the client's clock",
        )
    nbf = verified.get("nbf")
    if isinstance(nbf, (int, float)) and nbf > now + SKEW_S:
        raise error(
            401,
            "invalid_client",
            "client_assertion: nbf is in the future by the server's clock; "
            "check the client's clock",
        )
    if exp - iat > MAX_ASSERTION_LIFETIME_S + SKEW_S:
        raise error(
            401, "invalid_client", "client_assertion: exp must be at most 10 minutes after iat"
        )
    jti = verified.get("jti")
    if not isinstance(jti, str) or not jti:
        raise error(401, "invalid_client", "client_assertion: jti must be a non-empty string")
    if not state.jti_fresh(vendor, client.client_id, jti):
        raise error(401, "invalid_client", "client_assertion: jti has already been used")
    return client


def issue_hs256(
    state: SandboxState,
    request: Request,
    vendor: str,
    client_id: str,
    scopes: tuple[str, ...],
    extra: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """Issue and remember an HS256 access token; return it with its lifetime."""
    lifetime = state.lifetime_s(vendor)
    now = int(state.now())
    claims: dict[str, Any] = {
        "iss": f"{request.base_url}/{vendor}/",
        "sub": client_id,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_hex(8),
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    claims.update(extra or {})
    token = state.sign_hs256(claims)
    state.remember_access(token, Issued(vendor, client_id, scopes, state.now() + lifetime))
    return token, lifetime
