"""Wokelo (document 004): password grant with rotating refresh tokens.

An unsupported media type answers Django REST Framework's ``{"detail": ...}``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, Any, Final

from vendorgate.testing.sandbox._http import BadRequest, Reply, Request, json_reply, parse_form
from vendorgate.testing.sandbox._state import Issued, SandboxState
from vendorgate.testing.sandbox._vendors._common import (
    error,
    issue_hs256,
    json_body,
    required_str,
    secret_ok,
)

if TYPE_CHECKING:
    from vendorgate.testing.sandbox._clients import SandboxClient

__all__ = ["wokelo"]

_WOKELO_SCOPE: Final = "read write"


def _wokelo_form(request: Request) -> dict[str, Any]:
    # The document says form-data, its cURL sample sends JSON: both are accepted, nothing
    # else (not even urlencoded, which the document never shows).
    media = request.media_type
    if media == "application/json":
        return json_body(request)
    if media == "multipart/form-data":
        try:
            return parse_form(request)
        except (ValueError, UnicodeDecodeError, KeyError):
            raise error(400, "invalid_request", "the form body does not parse") from None
    raise BadRequest(415, {"detail": f'Unsupported media type "{media}" in request.'})


def _wokelo_issue(state: SandboxState, request: Request, client: SandboxClient) -> Reply:
    token, lifetime = issue_hs256(
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


def wokelo(state: SandboxState, request: Request) -> Reply:
    """Answer one Wokelo password or refresh token request."""
    vendor = "wokelo"
    try:
        form = _wokelo_form(request)
    except BadRequest:
        state.count_token_request(vendor)
        raise
    cid, grant = form.get("client_id"), form.get("grant_type")
    state.count_token_request(vendor, cid, grant)
    grant = required_str(form, "grant_type")
    if grant not in ("password", "refresh_token"):
        raise error(400, "unsupported_grant_type", "grant_type must be password or refresh_token")
    cid = required_str(form, "client_id")
    secret = required_str(form, "client_secret")
    if grant == "password":
        username = required_str(form, "username")
        password = required_str(form, "password")
    else:
        refresh_token = required_str(form, "refresh_token")
    client = state.client(vendor, cid)
    if not secret_ok(client, secret, "client_secret_post"):
        raise error(401, "invalid_client", "Invalid client_id or client_secret")
    assert client is not None
    if grant == "password":
        if (
            "password" not in client.auth_methods
            or client.username != username
            or client.password is None
            or not hmac.compare_digest(client.password.encode(), password.encode())
        ):
            raise error(401, "invalid_grant", "Invalid credentials given.")
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
        raise error(401, "invalid_grant", "refresh_token is invalid, used or revoked")
    return _wokelo_issue(state, request, client)
