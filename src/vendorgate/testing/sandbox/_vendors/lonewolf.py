"""Lone Wolf (document 001): JSON client credentials with an audience."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate.testing.sandbox._clients import AUDIENCES
from vendorgate.testing.sandbox._http import BadRequest, Reply, Request, json_reply
from vendorgate.testing.sandbox._vendors._common import (
    error,
    issue_hs256,
    json_body,
    required_str,
    secret_ok,
)

if TYPE_CHECKING:
    from vendorgate.testing.sandbox._state import SandboxState

__all__ = ["lonewolf"]


def lonewolf(state: SandboxState, request: Request) -> Reply:
    """Answer one Lone Wolf token request."""
    vendor = "lonewolf"
    try:
        body = json_body(request)
    except BadRequest:
        state.count_token_request(vendor)
        raise
    cid, grant = body.get("client_id"), body.get("grant_type")
    state.count_token_request(vendor, cid, grant)
    grant = required_str(body, "grant_type")
    if grant != "client_credentials":
        raise error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    cid = required_str(body, "client_id")
    secret = required_str(body, "client_secret")
    audience = required_str(body, "audience")
    if audience != AUDIENCES[vendor]:
        raise error(400, "invalid_request", f"audience must be {AUDIENCES[vendor]}")
    lwt = body.get("lwt_client_id")
    if lwt is not None and not isinstance(lwt, str):
        raise error(400, "invalid_request", "lwt_client_id must be a string")
    client = state.client(vendor, cid)
    if not secret_ok(client, secret, "client_secret_post"):
        raise error(401, "invalid_client", "Invalid credentials: check client_id and client_secret")
    extra = {"aud": audience} | ({"lwt_client_id": lwt} if lwt else {})
    token, lifetime = issue_hs256(state, request, vendor, cid, (), extra)
    return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime})
