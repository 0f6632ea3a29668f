"""The five token endpoints, each exactly as its vendor document describes it.

Error bodies follow OAuth 2.0 (``{"error": ..., "error_description": ...}``) for every
vendor; Wokelo's unsupported media type answers Django REST Framework's
``{"detail": ...}``. Messages name the field at fault and never echo a secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

from vendorgate.testing.sandbox._clients import AUDIENCES, SandboxClient, tci_application_id
from vendorgate.testing.sandbox._http import BadRequest, Reply, Request, json_reply, parse_form
from vendorgate.testing.sandbox._state import Issued, SandboxState

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["TOKEN_HANDLERS"]

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_SKEW_S: Final = 30
_MAX_ASSERTION_LIFETIME_S: Final = 600
_TECHWOLF_SCOPES: Final = ("read", "write", "read_reports")


def _error(
    status: int, error: str, description: str, headers: list[tuple[bytes, bytes]] | None = None
) -> BadRequest:
    return BadRequest(status, {"error": error, "error_description": description}, headers)


def _json_body(request: Request) -> dict[str, Any]:
    if request.media_type != "application/json":
        raise _error(
            400,
            "invalid_request",
            "Content-Type must be application/json with a JSON object body",
        )
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        raise _error(400, "invalid_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _error(400, "invalid_request", "the body must be a JSON object")
    return body


def _required_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _error(400, "invalid_request", f"Missing required parameter: {name}")
    return value


def _secret_ok(client: SandboxClient | None, secret: object, method: str) -> bool:
    if client is None or client.client_secret is None or method not in client.auth_methods:
        return False
    if not isinstance(secret, str):
        return False
    return hmac.compare_digest(secret.encode(), client.client_secret.encode())


def _unverified_iss(assertion: object) -> str:
    import jwt

    if not isinstance(assertion, str):
        return ""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    iss = claims.get("iss")
    return iss if isinstance(iss, str) else ""


def _verify_assertion(
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
        raise _error(400, "invalid_request", f"client_assertion_type must be {JWT_BEARER}")
    if not isinstance(assertion, str) or not assertion:
        raise _error(400, "invalid_request", "Missing required parameter: client_assertion")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise _error(400, "invalid_request", "client_assertion is not a JWT") from None
    iss = claims.get("iss")
    client = state.client(vendor, iss)
    if client is None or not client.has_key or "private_key_jwt" not in client.auth_methods:
        raise _error(
            401, "invalid_client", "client_assertion: iss names no client with a registered key"
        )
    if claimed_client_id is not None and claimed_client_id != iss:
        raise _error(401, "invalid_client", "client_id does not match the assertion's iss")
    key = client._key
    if client._keys_by_kid:
        # Registered as a JWKS: the assertion's kid picks the key, as vendors do.
        kid = header.get("kid")
        key = client._keys_by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise _error(
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
        raise _error(
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
            leeway=_SKEW_S,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
        )
    except jwt.InvalidAudienceError:
        raise _error(
            401, "invalid_client", f"client_assertion: aud must be the token URL {request.url}"
        ) from None
    except jwt.InvalidTokenError as exc:
        raise _error(401, "invalid_client", f"client_assertion rejected: {exc}") from None
    now = time.time()
    if verified.get("sub") != iss:
        raise _error(401, "invalid_client", "client_assertion: sub must equal iss (the client id)")
    iat, exp = verified["iat"], verified["exp"]
    if not isinstance(iat, (int, float)) or iat > now + _SKEW_S:
        raise _error(401, "invalid_client", "client_assertion: iat is in the future")
    if exp - iat > _MAX_ASSERTION_LIFETIME_S + _SKEW_S:
        raise _error(
            401, "invalid_client", "client_assertion: exp must be at most 10 minutes after iat"
        )
    jti = verified.get("jti")
    if not isinstance(jti, str) or not jti:
        raise _error(401, "invalid_client", "client_assertion: jti must be a non-empty string")
    if not state.jti_fresh(vendor, client.client_id, jti):
        raise _error(401, "invalid_client", "client_assertion: jti has already been used")
    return client


def _issue_hs256(
    state: SandboxState,
    request: Request,
    vendor: str,
    client_id: str,
    scopes: tuple[str, ...],
    extra: dict[str, Any] | None = None,
) -> tuple[str, int]:
    lifetime = state.lifetime_s(vendor)
    now = int(time.time())
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
    state.remember_access(token, Issued(vendor, client_id, scopes, time.time() + lifetime))
    return token, lifetime


# --------------------------------------------------------------------- TechWolf (000)
def _techwolf(vendor: str) -> Callable[[SandboxState, Request], Reply]:
    def handle(state: SandboxState, request: Request) -> Reply:
        try:
            body = _json_body(request)
        except BadRequest:
            state.count_token_request(vendor)
            raise
        uses_assertion = "client_assertion" in body or "client_assertion_type" in body
        client_id = body.get("client_id")
        if uses_assertion and not isinstance(client_id, str):
            client_id = _unverified_iss(body.get("client_assertion"))
        state.count_token_request(vendor, client_id, body.get("grant_type"))
        grant = _required_str(body, "grant_type")
        if grant != "client_credentials":
            raise _error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        audience = _required_str(body, "audience")
        tenant = _required_str(body, "tenant")
        if "scope" in body:
            raise _error(
                400,
                "invalid_request",
                "unknown field scope: the token request takes scopes, a JSON array of strings",
            )
        scopes_in = body.get("scopes")
        if scopes_in is not None and (
            not isinstance(scopes_in, list) or not all(isinstance(s, str) for s in scopes_in)
        ):
            raise _error(400, "invalid_request", "scopes must be a JSON array of strings")
        if uses_assertion:
            client = _verify_assertion(
                state,
                request,
                vendor,
                body.get("client_assertion_type"),
                body.get("client_assertion"),
                body.get("client_id"),
            )
        else:
            cid = _required_str(body, "client_id")
            _required_str(body, "client_secret")
            found = state.client(vendor, cid)
            if found is None or not _secret_ok(found, body["client_secret"], "client_secret_post"):
                raise _error(401, "invalid_client", "Unauthorized: wrong client_id or secret")
            client = found
        if audience != AUDIENCES[vendor]:
            raise _error(403, "access_denied", f"Service not found: {audience}")
        if client.tenants is not None and tenant not in client.tenants:
            raise _error(403, "access_denied", "the client is not authorized for this tenant")
        granted = client.scopes if scopes_in is None else tuple(scopes_in)
        unknown = [s for s in granted if s not in client.scopes or s not in _TECHWOLF_SCOPES]
        if unknown:
            raise _error(
                403, "access_denied", f"Client has not been granted scopes: {' '.join(unknown)}"
            )
        token, lifetime = _issue_hs256(
            state, request, vendor, client.client_id, granted, {"aud": audience, "tenant": tenant}
        )
        return json_reply(
            200,
            {
                "access_token": token,
                "expires_in": lifetime,
                "scope": " ".join(granted),
                "token_type": "Bearer",
            },
        )

    return handle


# --------------------------------------------------------------------- Lone Wolf (001)
def _lonewolf(state: SandboxState, request: Request) -> Reply:
    vendor = "lonewolf"
    try:
        body = _json_body(request)
    except BadRequest:
        state.count_token_request(vendor)
        raise
    cid, grant = body.get("client_id"), body.get("grant_type")
    state.count_token_request(vendor, cid, grant)
    grant = _required_str(body, "grant_type")
    if grant != "client_credentials":
        raise _error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    cid = _required_str(body, "client_id")
    secret = _required_str(body, "client_secret")
    audience = _required_str(body, "audience")
    if audience != AUDIENCES[vendor]:
        raise _error(400, "invalid_request", f"audience must be {AUDIENCES[vendor]}")
    lwt = body.get("lwt_client_id")
    if lwt is not None and not isinstance(lwt, str):
        raise _error(400, "invalid_request", "lwt_client_id must be a string")
    client = state.client(vendor, cid)
    if not _secret_ok(client, secret, "client_secret_post"):
        raise _error(
            401, "invalid_client", "Invalid credentials: check client_id and client_secret"
        )
    extra = {"aud": audience} | ({"lwt_client_id": lwt} if lwt else {})
    token, lifetime = _issue_hs256(state, request, vendor, cid, (), extra)
    return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime})


# --------------------------------------------------------------------- TCI ATM (002)
def _tci_tokens(state: SandboxState, client_id: str) -> tuple[str, int]:
    lifetime = state.lifetime_s("tci")
    now = int(time.time())
    token = state.sign_tci(
        {
            "iat": now,
            "iss": "atm",
            "exp": now + lifetime,
            "aud": tci_application_id(client_id),
            "jti": secrets.token_hex(8),
        }
    )
    state.remember_access(token, Issued("tci", client_id, (), time.time() + lifetime))
    return token, lifetime


def _tci(state: SandboxState, request: Request) -> Reply:
    vendor = "tci"
    try:
        body = _json_body(request)
    except BadRequest:
        state.count_token_request(vendor)
        raise
    cid = body.get("clientId")
    is_refresh = "grantType" in body or "refresh_token" in body
    grant = body.get("grantType") if is_refresh else body.get("grant_types")
    state.count_token_request(vendor, cid, grant)
    for wrong, right in (("client_id", "clientId"), ("client_secret", "clientSecret")):
        if wrong in body:
            raise _error(400, "invalid_request", f"unknown field {wrong}: use {right}")
    cid = _required_str(body, "clientId")
    if is_refresh:
        if "grant_types" in body:
            raise _error(400, "invalid_request", "the refresh request names its grant in grantType")
        if body.get("grantType") != "refresh_token":
            raise _error(400, "unsupported_grant_type", "grantType must be refresh_token")
        refresh_token = _required_str(body, "refresh_token")
        id_token = _required_str(body, "id_token")
        if state.client(vendor, cid) is None:
            raise _error(401, "invalid_client", "unknown clientId")
        issued = state.refresh.get(refresh_token)
        if (
            issued is None
            or issued.revoked
            or issued.client_id != cid
            or issued.vendor != vendor
            or issued.id_token is None
            or not hmac.compare_digest(issued.id_token.encode(), id_token.encode())
        ):
            raise _error(401, "invalid_grant", "refresh_token or id_token is invalid or revoked")
        token, lifetime = _tci_tokens(state, cid)
        return json_reply(
            200,
            {
                "access_token": token,
                "exp_access_token": lifetime,
                "refresh_token": refresh_token,
                "id_token": issued.id_token,
            },
        )
    if "grant_type" in body or "grantType" in body:
        raise _error(
            400, "invalid_request", "unknown field grant_type: the token request uses grant_types"
        )
    grant = _required_str(body, "grant_types")
    if grant != "client_credentials":
        raise _error(400, "unsupported_grant_type", "grant_types must be client_credentials")
    secret = _required_str(body, "clientSecret")
    client = state.client(vendor, cid)
    if not _secret_ok(client, secret, "client_secret_post"):
        raise _error(401, "invalid_client", "Invalid clientId or clientSecret")
    token, lifetime = _tci_tokens(state, cid)
    now = int(time.time())
    id_token = state.sign_tci(
        {
            "iat": now,
            "iss": "atm",
            "aud": cid,
            "sub": cid,
            "exp": now + 86400,
            "jti": secrets.token_hex(8),
        }
    )
    refresh_token = secrets.token_urlsafe(32)
    state.remember_refresh(refresh_token, Issued(vendor, cid, (), float("inf"), id_token=id_token))
    return json_reply(
        200,
        {
            "access_token": token,
            "exp_access_token": lifetime,
            "refresh_token": refresh_token,
            "id_token": id_token,
        },
    )


# --------------------------------------------------------------------- generic OAuth 2.0 (003)
_BASIC_CHALLENGE: Final = [(b"www-authenticate", b'Basic realm="vendorgate-sandbox"')]


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _error(
            401, "invalid_client", "Authorization: Basic value is not base64", _BASIC_CHALLENGE
        ) from None
    # The 003 document: "a Base 64-encoded string that contains the client ID and client
    # secret key" -- taken literally, without the form-urlencoding of RFC 6749 2.3.1.
    cid, sep, secret = decoded.partition(":")
    if not sep:
        raise _error(401, "invalid_client", "Basic credentials must be client_id:client_secret")
    return cid, secret


def _oauth2(state: SandboxState, request: Request) -> Reply:
    vendor = "oauth2"
    if request.media_type != "application/x-www-form-urlencoded":
        state.count_token_request(vendor)
        raise _error(
            400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
        )
    try:
        form = parse_form(request)
    except (ValueError, UnicodeDecodeError):
        state.count_token_request(vendor)
        raise _error(400, "invalid_request", "the form body does not parse") from None
    basic = _basic_credentials(request.headers.get("authorization", ""))
    cid = (
        basic[0]
        if basic
        else form.get("client_id") or _unverified_iss(form.get("client_assertion"))
    )
    state.count_token_request(vendor, cid, form.get("grant_type"))
    grant = form.get("grant_type")
    if not grant:
        raise _error(400, "invalid_request", "Missing required parameter: grant_type")
    if grant != "client_credentials":
        raise _error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    methods = [basic is not None, "client_assertion" in form, "client_secret" in form]
    if sum(methods) > 1:
        raise _error(400, "invalid_request", "use exactly one client authentication method")
    client: SandboxClient | None
    if basic is not None:
        client = state.client(vendor, basic[0])
        if not _secret_ok(client, basic[1], "client_secret_basic"):
            raise _error(401, "invalid_client", "Invalid client credentials", _BASIC_CHALLENGE)
    elif "client_assertion" in form:
        client = _verify_assertion(
            state,
            request,
            vendor,
            form.get("client_assertion_type"),
            form.get("client_assertion"),
            form.get("client_id"),
        )
    elif "client_secret" in form:
        client = state.client(vendor, form.get("client_id"))
        if not _secret_ok(client, form["client_secret"], "client_secret_post"):
            raise _error(401, "invalid_client", "Invalid client credentials", _BASIC_CHALLENGE)
    else:
        raise _error(
            401,
            "invalid_client",
            "send Authorization: Basic base64(client_id:client_secret)",
            _BASIC_CHALLENGE,
        )
    assert client is not None
    requested = form.get("scope")
    granted = client.scopes if not requested else tuple(requested.split())
    unknown = [s for s in granted if s not in client.scopes]
    if unknown:
        raise _error(
            400, "invalid_scope", f"scope not allowed for this client: {' '.join(unknown)}"
        )
    token, lifetime = _issue_hs256(
        state, request, vendor, client.client_id, granted, {"aud": "oauth2-api"}
    )
    return json_reply(200, {"token_type": "Bearer", "expires_in": lifetime, "access_token": token})


# --------------------------------------------------------------------- Wokelo (004)
_WOKELO_SCOPE: Final = "read write"


def _wokelo_form(request: Request) -> dict[str, Any]:
    # The document says form-data, its cURL sample sends JSON: both are accepted, nothing
    # else (not even urlencoded, which the document never shows).
    media = request.media_type
    if media == "application/json":
        return _json_body(request)
    if media == "multipart/form-data":
        try:
            return parse_form(request)
        except (ValueError, UnicodeDecodeError, KeyError):
            raise _error(400, "invalid_request", "the form body does not parse") from None
    raise BadRequest(415, {"detail": f'Unsupported media type "{media}" in request.'})


def _wokelo_issue(state: SandboxState, request: Request, client: SandboxClient) -> Reply:
    token, lifetime = _issue_hs256(
        state, request, "wokelo", client.client_id, tuple(_WOKELO_SCOPE.split())
    )
    refresh_token = secrets.token_urlsafe(32)
    state.remember_refresh(refresh_token, Issued("wokelo", client.client_id, (), float("inf")))
    return json_reply(
        200,
        {
            "access_token": token,
            "expires_in": lifetime,
            "token_type": "Bearer",
            "scope": _WOKELO_SCOPE,
            "refresh_token": refresh_token,
        },
    )


def _wokelo(state: SandboxState, request: Request) -> Reply:
    vendor = "wokelo"
    try:
        form = _wokelo_form(request)
    except BadRequest:
        state.count_token_request(vendor)
        raise
    cid, grant = form.get("client_id"), form.get("grant_type")
    state.count_token_request(vendor, cid, grant)
    grant = _required_str(form, "grant_type")
    if grant not in ("password", "refresh_token"):
        raise _error(400, "unsupported_grant_type", "grant_type must be password or refresh_token")
    cid = _required_str(form, "client_id")
    secret = _required_str(form, "client_secret")
    if grant == "password":
        username = _required_str(form, "username")
        password = _required_str(form, "password")
    else:
        refresh_token = _required_str(form, "refresh_token")
    client = state.client(vendor, cid)
    if not _secret_ok(client, secret, "client_secret_post"):
        raise _error(401, "invalid_client", "Invalid client_id or client_secret")
    assert client is not None
    if grant == "password":
        if (
            "password" not in client.auth_methods
            or client.username != username
            or client.password is None
            or not hmac.compare_digest(client.password.encode(), password.encode())
        ):
            raise _error(401, "invalid_grant", "Invalid credentials given.")
        return _wokelo_issue(state, request, client)
    with state.lock:
        issued = state.refresh.get(refresh_token)
        ok = (
            issued is not None
            and not issued.revoked
            and issued.vendor == vendor
            and issued.client_id == cid
        )
        if ok and issued is not None:
            issued.revoked = True  # refresh tokens rotate
    if not ok:
        raise _error(401, "invalid_grant", "refresh_token is invalid, used or revoked")
    return _wokelo_issue(state, request, client)


#: Token endpoint path -> (vendor, handler).
TOKEN_HANDLERS: Final[dict[str, tuple[str, Callable[[SandboxState, Request], Reply]]]] = {
    "/techwolf-eu/oauth/token": ("techwolf-eu", _techwolf("techwolf-eu")),
    "/techwolf-us/oauth/token": ("techwolf-us", _techwolf("techwolf-us")),
    "/lonewolf/oauth/token": ("lonewolf", _lonewolf),
    "/tci/auth/token": ("tci", _tci),
    "/oauth2/oauth/v2/token": ("oauth2", _oauth2),
    "/wokelo/auth/token/": ("wokelo", _wokelo),
}
