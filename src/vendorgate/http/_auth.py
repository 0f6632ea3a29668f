"""``httpx.Auth`` that sends the cached vendor token and replaces it once when refused."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from vendorgate._errors import AuthenticationError, PermissionDeniedError
from vendorgate.http._response import api_error

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Generator

    from vendorgate.tokens import Token, TokenSource

__all__ = ["VendorAuth"]

logger = logging.getLogger("vendorgate.http")


class VendorAuth(httpx.Auth):
    """Attach ``Authorization: Bearer <token>`` from a :class:`~vendorgate.tokens.TokenSource`.

    When the API answers one of ``source.invalid_token_statuses`` (401, or 401 and 403
    for Lone Wolf), the exact token sent is invalidated in every cache level and the
    request is sent once more with a fresh token. A second refusal raises
    :class:`~vendorgate.AuthenticationError` (401: the credentials are wrong) or
    :class:`~vendorgate.PermissionDeniedError` (403: permissions are missing).

    Getting a token may do I/O and take locks, so both ``sync_auth_flow`` and
    ``async_auth_flow`` are implemented (the sync one calls ``source.get_token()``, the
    async one awaits ``source.aget_token()``).

    A bearer token is never sent over plain ``http://`` to a host other than loopback
    (:class:`~vendorgate.ConfigurationError` on ``url``) unless the token
    configuration's ``allow_insecure_http`` or ``VENDORGATE_ALLOW_INSECURE_HTTP=1``
    allows it.

    Args:
        source: The token provider of one vendor client.
    """

    requires_response_body = False

    def __init__(self, source: TokenSource) -> None:
        self.source = source
        self._loopback: set[str] = set()  # plain-http hosts that passed: loopback only

    def _attach(self, request: httpx.Request, token: Token) -> None:
        url = request.url
        # https always passes the plain-HTTP check; so does a loopback host (checked once)
        if url.scheme != "https" and url.host not in self._loopback:
            from vendorgate._url import check_bearer_transport, is_loopback_host

            check_bearer_transport(str(url), self.source)
            if url.scheme == "http" and is_loopback_host(url.host):
                self._loopback.add(url.host)
        request.headers["Authorization"] = f"Bearer {token.access_token}"

    def _refused(self, response: httpx.Response, token: Token) -> Exception:
        status = response.status_code
        if status == 403:
            reason = (
                "refused a freshly fetched token: the client lacks permissions for this "
                "call (check its scopes/roles with the vendor)"
            )
            cls: type[AuthenticationError | PermissionDeniedError] = PermissionDeniedError
        else:
            reason = (
                "refused a freshly fetched token: the credentials are wrong or revoked "
                "(check client id, secret or key, tenant and audience)"
            )
            cls = AuthenticationError
        return api_error(
            response,
            vendor=self.source.vendor,
            reason=reason,
            cls=cls,
            known_secrets=(token.access_token,),
        )

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with the cached token; on refusal invalidate it and retry once."""
        token = self.source.get_token()
        self._attach(request, token)
        response = yield request
        if response.status_code not in self.source.invalid_token_statuses:
            return
        logger.info(
            "%s: token %s refused with %d, fetching a fresh one",
            self.source.vendor,
            token.fingerprint,
            response.status_code,
        )
        response.read()
        self.source.invalidate(token)
        token = self.source.get_token()
        self._attach(request, token)
        response = yield request
        if response.status_code in self.source.invalid_token_statuses:
            response.read()
            raise self._refused(response, token)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Async :meth:`sync_auth_flow`."""
        token = await self.source.aget_token()
        self._attach(request, token)
        response = yield request
        if response.status_code not in self.source.invalid_token_statuses:
            return
        logger.info(
            "%s: token %s refused with %d, fetching a fresh one",
            self.source.vendor,
            token.fingerprint,
            response.status_code,
        )
        await response.aread()
        await self.source.ainvalidate(token)
        token = await self.source.aget_token()
        self._attach(request, token)
        response = yield request
        if response.status_code in self.source.invalid_token_statuses:
            await response.aread()
            raise self._refused(response, token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Not used: httpx calls :meth:`sync_auth_flow` / :meth:`async_auth_flow`."""
        raise NotImplementedError("VendorAuth implements sync_auth_flow and async_auth_flow")
