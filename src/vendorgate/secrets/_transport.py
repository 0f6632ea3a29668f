"""The transport under every Vault request: requests' adapter with a cap on reply size.

hvac reads each reply whole (``response.json()``). A wrong ``VAULT_ADDR`` or a broken
proxy answering with an endless body would make a worker hold all of it, so
:func:`capped_session` mounts :class:`CappedAdapter` on hvac's ``requests.Session``: each
reply (redirects included) is streamed and read up to
:data:`~vendorgate.secrets.MAX_VAULT_REPLY_BYTES` before hvac sees it. Past the cap,
reading stops and :class:`ReplyTooLarge` (a ``requests`` error) is raised, which
:func:`~vendorgate.secrets.vault_error_from` turns into a
:class:`~vendorgate.VaultUnavailableError` naming the limit and the URL.

Imported on the first Vault call (it imports requests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from vendorgate._retry import BodyTooLarge, read_requests_body
from vendorgate._url import safe_url

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

__all__ = ["CappedAdapter", "ReplyTooLarge", "capped_session"]


class ReplyTooLarge(requests.exceptions.RequestException):
    """A Vault reply passed its size cap (mapped by ``vault_error_from``).

    Attributes:
        limit: The cap, in bytes.
        where: The request URL without user info or query.
    """

    def __init__(self, limit: int, where: str) -> None:
        super().__init__(f"reply from {where} larger than {limit} bytes")
        self.limit = limit
        self.where = where


class CappedAdapter(HTTPAdapter):
    """requests' ``HTTPAdapter`` reading each reply body streamed, under ``limit`` bytes.

    Args:
        limit: The largest reply body read, in (decoded) bytes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def send(  # type: ignore[override]
        self, request: PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> Response:
        """Send ``request`` and read its reply under the cap, whatever ``stream`` says."""
        response = super().send(request, stream=True, **kwargs)
        try:
            read_requests_body(response, limit=self.limit)
        except BodyTooLarge as exc:
            raise ReplyTooLarge(exc.limit, safe_url(request.url)) from None
        return response


def capped_session(session: requests.Session, limit: int) -> requests.Session:
    """Mount a :class:`CappedAdapter` of ``limit`` bytes on ``session`` for http and https."""
    adapter = CappedAdapter(limit)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
