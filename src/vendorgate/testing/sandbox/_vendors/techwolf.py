"""TechWolf (document 000): JSON body, tenant and audience, scopes as a JSON array."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from vendorgate.testing.sandbox._clients import AUDIENCES
from vendorgate.testing.sandbox._http import BadRequest, Reply, Request, json_reply
from vendorgate.testing.sandbox._vendors._common import (
    error,
    issue_hs256,
    json_body,
    required_str,
    secret_ok,
    unverified_iss,
    verify_assertion,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from vendorgate.testing.sandbox._state import SandboxState

__all__ = ["techwolf"]

_TECHWOLF_SCOPES: Final = ("read", "write", "read_reports")


def techwolf(vendor: str) -> Callable[[SandboxState, Request], Reply]:
    """The token handler of one TechWolf region (``techwolf-eu`` or ``techwolf-us``)."""

    def handle(state: SandboxState, request: Request) -> Reply:
        try:
            body = json_body(request)
        except BadRequest:
            state.count_token_request(vendor)
            raise
        uses_assertion = "client_assertion" in body or "client_assertion_type" in body
        client_id = body.get("client_id")
        if uses_assertion and not isinstance(client_id, str):
            client_id = unverified_iss(body.get("client_assertion"))
        state.count_token_request(vendor, client_id, body.get("grant_type"))
        grant = required_str(body, "grant_type")
        if grant != "client_credentials":
            raise error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        audience = required_str(body, "audience")
        tenant = required_str(body, "tenant")
        if "scope" in body:
            raise error(
                400,
                "invalid_request",
                "unknown field scope: the token request takes scopes, a JSON array of strings",
            )
        scopes_in = body.get("scopes")
        if scopes_in is not None and (
            not isinstance(scopes_in, list) or not all(isinstance(s, str) for s in scopes_in)
        ):
            raise error(400, "invalid_request", "scopes must be a JSON array of strings")
        if uses_assertion:
            client = verify_assertion(
                state,
                request,
                vendor,
                body.get("client_assertion_type"),
                body.get("client_assertion"),
                body.get("client_id"),
            )
        else:
            cid = required_str(body, "client_id")
            required_str(body, "client_secret")
            found = state.client(vendor, cid)
            if found is None or not secret_ok(found, body["client_secret"], "client_secret_post"):
                raise error(401, "invalid_client", "Unauthorized: wrong client_id or secret")
            client = found
        if audience != AUDIENCES[vendor]:
            raise error(403, "access_denied", f"Service not found: {audience}")
        if client.tenants is not None and tenant not in client.tenants:
            raise error(403, "access_denied", "the client is not authorized for this tenant")
        granted = client.scopes if scopes_in is None else tuple(scopes_in)
        unknown = [s for s in granted if s not in client.scopes or s not in _TECHWOLF_SCOPES]
        if unknown:
            raise error(
                403, "access_denied", f"Client has not been granted scopes: {' '.join(unknown)}"
            )
        token, lifetime = issue_hs256(
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
