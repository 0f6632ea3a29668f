"""``requests`` authentication backed by vendorgate's token provider and cache.

For code built on requests rather than httpx: a plain ``requests.Session``, Airflow's
``HttpHook`` (``auth_type``) and dlt's ``RESTClient`` (``auth``). The tokens come from
the same :class:`~vendorgate.tokens.TokenProvider` (and therefore the same cache) as
:class:`~vendorgate.http.VendorClient`, so a DAG that mixes both asks the vendor once.

requests is an optional dependency (``pip install 'vendorgate[requests]'``); this module
is imported only when :class:`VendorRequestsAuth` is first used.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

try:
    import requests
    from requests.auth import AuthBase
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "VendorRequestsAuth needs requests; install it with: pip install 'vendorgate[requests]'",
        name=exc.name,
    ) from None

from vendorgate._url import check_bearer_transport

if TYPE_CHECKING:
    from collections.abc import Callable

    from vendorgate.tokens import Token, TokenSource

__all__ = ["VendorRequestsAuth"]

logger = logging.getLogger("vendorgate.http")


class VendorRequestsAuth(AuthBase):
    """A ``requests`` auth that sends ``Authorization: Bearer <token>`` from a token source.

    When the API answers one of the source's ``invalid_token_statuses`` (401, or 401 and
    403 for Lone Wolf), the token sent is invalidated in every cache level and the request
    is sent once more with a fresh token; a second refusal is returned to the caller as
    is (requests leaves status handling to ``raise_for_status``). A token is never sent
    over plain ``http://`` to a host other than loopback unless the token configuration's
    ``allow_insecure_http`` or ``VENDORGATE_ALLOW_INSECURE_HTTP=1`` allows it.

    Args:
        source: The token source, usually a :class:`~vendorgate.tokens.TokenProvider`
            (or ``VendorConnection.provider()``).

    Example:
        >>> import requests
        >>> from vendorgate.http import VendorRequestsAuth
        >>> session = requests.Session()
        >>> session.auth = VendorRequestsAuth(provider)  # doctest: +SKIP

        Airflow's ``HttpHook`` builds its auth from ``auth_type``:
        ``HttpHook(http_conn_id="acme_api", auth_type=VendorRequestsAuth.auth_type(provider))``.
        dlt: ``RESTClient(base_url=..., auth=VendorRequestsAuth(provider))``.
    """

    def __init__(self, source: TokenSource) -> None:
        if not hasattr(source, "get_token") or not hasattr(source, "invalidate"):
            from vendorgate._errors import ConfigurationError

            raise ConfigurationError("must be a TokenSource (e.g. a TokenProvider)", field="source")
        self.source = source

    def __repr__(self) -> str:
        return f"VendorRequestsAuth(vendor={self.source.vendor!r})"

    def __eq__(self, other: object) -> bool:
        # requests compares auth objects when merging session and request settings.
        return isinstance(other, VendorRequestsAuth) and other.source is self.source

    __hash__ = AuthBase.__hash__

    @classmethod
    def auth_type(cls, source: TokenSource) -> Callable[..., VendorRequestsAuth]:
        """A factory for Airflow's ``HttpHook(auth_type=...)``.

        The hook calls ``auth_type(login, password)`` when the connection has a login and
        ``auth_type()`` otherwise; the factory ignores both (the credentials come from
        the token configuration's secret references) and returns an auth for ``source``.
        """

        def build(*_credentials: Any, **_kwargs: Any) -> VendorRequestsAuth:
            return cls(source)

        return build

    def _attach(self, request: requests.PreparedRequest, token: Token) -> None:
        check_bearer_transport(str(request.url), self.source)
        request.headers["Authorization"] = f"Bearer {token.access_token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.source.get_token()
        self._attach(request, token)
        position = None
        body_tell = getattr(request.body, "tell", None)
        if callable(body_tell):
            try:
                position = body_tell()
            except OSError:
                position = None

        def retry_once(response: requests.Response, **kwargs: Any) -> requests.Response:
            if response.status_code not in self.source.invalid_token_statuses:
                return response
            logger.info(
                "%s: token %s refused with %d, fetching a fresh one",
                self.source.vendor,
                token.fingerprint,
                response.status_code,
            )
            self.source.invalidate(token)
            fresh = self.source.get_token()
            if position is not None:
                request.body.seek(position)  # type: ignore[union-attr]
            _ = response.content  # release the connection
            response.close()
            again = response.request.copy()
            again.hooks = {"response": []}  # one retry only (copy() shares the dict)
            self._attach(again, fresh)
            connection: Any = response.connection
            retried: requests.Response = connection.send(again, **kwargs)
            retried.history.append(response)
            retried.request = again
            return retried

        request.register_hook("response", retry_once)  # type: ignore[no-untyped-call]
        return request

    def session(self) -> requests.Session:
        """A new ``requests.Session`` using this auth."""
        session = requests.Session()
        session.auth = self
        return session
