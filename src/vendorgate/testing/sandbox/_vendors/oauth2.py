"""Generic OAuth 2.0 (document 003): form body, Basic, post or private_key_jwt client auth."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Final

from vendorgate.testing.sandbox._http import Reply, Request, json_reply, parse_form
from vendorgate.testing.sandbox._vendors._common import (
    error,
    issue_hs256,
    secret_ok,
    unverified_iss,
    verify_assertion,
)

if TYPE_CHECKING:
    from vendorgate.testing.sandbox._clients import SandboxClient
    from vendorgate.testing.sandbox._state import SandboxState

__all__ = ["oauth2"]

_BASIC_CHALLENGE: Final = [(b"www-authenticate", b'Basic realm="vendorgate-sandbox"')]


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise error(
            401, "invalid_client", "Authorization: Basic value is not base64", _BASIC_CHALLENGE
        ) from None
    # The 003 document: "a Base 64-encoded string that contains the client ID and client
    # secret key" -- taken literally, without the form-urlencoding of RFC 6749 2.3.1.
    cid, sep, secret = decoded.partition(":")
    if not sep:
        raise error(401, "invalid_client", "Basic credentials must be client_id:client_secret")
    return cid, secret


def oauth2(state: SandboxState, request: Request) -> Reply:
    """Answer one generic OAuth 2.0 token request."""
    vendor = "oauth2"
    if request.media_type != "application/x-www-form-urlencoded":
        state.count_token_request(vendor)
        raise error(
            400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
        )
    try:
        form = parse_form(request)
    except (ValueError, UnicodeDecodeError):
        state.count_token_request(vendor)
        raise error(400, "invalid_request", "the form body does not parse") from None
    basic = _basic_credentials(request.headers.get("authorization", ""))
    cid = (
        basic[0] if basic else form.get("client_id") or unverified_iss(form.get("client_assertion"))
    )
    state.count_token_request(vendor, cid, form.get("grant_type"))
    grant = form.get("grant_type")
    if not grant:
        raise error(400, "invalid_request", "Missing required parameter: grant_type")
    if grant != "client_credentials":
        raise error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    methods = [basic is not None, "client_assertion" in form, "client_secret" in form]
    if sum(methods) > 1:
        raise error(400, "invalid_request", "use exactly one client authentication method")
    client: SandboxClient | None
    if basic is not None:
        client = state.client(vendor, basic[0])
        if not secret_ok(client, basic[1], "client_secret_basic"):
            raise error(401, "invalid_client", "Invalid client credentials", _BASIC_CHALLENGE)
    elif "client_assertion" in form:
        client = verify_assertion(
            state,
            request,
            vendor,
            form.get("client_assertion_type"),
            form.get("client_assertion"),
            form.get("client_id"),
        )
    elif "client_secret" in form:
        client = state.client(vendor, form.get("client_id"))
        if not secret_ok(client, form["client_secret"], "client_secret_post"):
            raise error(401, "invalid_client", "Invalid client credentials", _BASIC_CHALLENGE)
    else:
        raise error(
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
        raise error(400, "invalid_scope", f"scope not allowed for this client: {' '.join(unknown)}")
    token, lifetime = issue_hs256(
        state, request, vendor, client.client_id, granted, {"aud": "oauth2-api"}
    )
    return json_reply(200, {"token_type": "Bearer", "expires_in": lifetime, "access_token": token})
