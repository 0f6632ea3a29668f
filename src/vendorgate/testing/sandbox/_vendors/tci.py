"""TCI ATM (document 002): camelCase JSON fields, id and refresh tokens, RS256 access tokens."""

from __future__ import annotations

import hmac
import secrets

from vendorgate.testing.sandbox._clients import tci_application_id
from vendorgate.testing.sandbox._http import BadRequest, Reply, Request, json_reply
from vendorgate.testing.sandbox._state import Issued, SandboxState
from vendorgate.testing.sandbox._vendors._common import error, json_body, required_str, secret_ok

__all__ = ["tci"]


def _tci_tokens(state: SandboxState, client_id: str) -> tuple[str, int]:
    lifetime = state.lifetime_s("tci")
    now = int(state.now())
    token = state.sign_tci(
        {
            "iat": now,
            "iss": "atm",
            "exp": now + lifetime,
            "aud": tci_application_id(client_id),
            "jti": secrets.token_hex(8),
        }
    )
    state.remember_access(token, Issued("tci", client_id, (), state.now() + lifetime))
    return token, lifetime


def tci(state: SandboxState, request: Request) -> Reply:
    """Answer one TCI ATM token or refresh request."""
    vendor = "tci"
    try:
        body = json_body(request)
    except BadRequest:
        state.count_token_request(vendor)
        raise
    cid = body.get("clientId")
    is_refresh = "grantType" in body or "refresh_token" in body
    grant = body.get("grantType") if is_refresh else body.get("grant_types")
    state.count_token_request(vendor, cid, grant)
    for wrong, right in (("client_id", "clientId"), ("client_secret", "clientSecret")):
        if wrong in body:
            raise error(400, "invalid_request", f"unknown field {wrong}: use {right}")
    cid = required_str(body, "clientId")
    if is_refresh:
        if "grant_types" in body:
            raise error(400, "invalid_request", "the refresh request names its grant in grantType")
        if body.get("grantType") != "refresh_token":
            raise error(400, "unsupported_grant_type", "grantType must be refresh_token")
        refresh_token = required_str(body, "refresh_token")
        id_token = required_str(body, "id_token")
        if state.client(vendor, cid) is None:
            raise error(401, "invalid_client", "unknown clientId")
        issued = state.refresh.get(refresh_token)
        if (
            issued is None
            or issued.revoked
            or issued.client_id != cid
            or issued.vendor != vendor
            or issued.id_token is None
            or not hmac.compare_digest(issued.id_token.encode(), id_token.encode())
        ):
            raise error(401, "invalid_grant", "refresh_token or id_token is invalid or revoked")
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
        raise error(
            400, "invalid_request", "unknown field grant_type: the token request uses grant_types"
        )
    grant = required_str(body, "grant_types")
    if grant != "client_credentials":
        raise error(400, "unsupported_grant_type", "grant_types must be client_credentials")
    secret = required_str(body, "clientSecret")
    client = state.client(vendor, cid)
    if not secret_ok(client, secret, "client_secret_post"):
        raise error(401, "invalid_client", "Invalid clientId or clientSecret")
    token, lifetime = _tci_tokens(state, cid)
    now = int(state.now())
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
