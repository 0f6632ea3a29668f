"""Turning a vendor's reply into a typed :class:`~vendorgate.APIError` (one place)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate._errors import APIError, api_error_for_status
from vendorgate._secret import redact_text
from vendorgate._url import REQUEST_ID_HEADERS, safe_url
from vendorgate._url import request_id as request_id_of

if TYPE_CHECKING:
    import httpx

__all__ = ["REQUEST_ID_HEADERS", "api_error", "request_id", "safe_url"]

_EXCERPT_CHARS = 200


def request_id(response: httpx.Response | None) -> str | None:
    """Return the vendor's request id header of ``response``, if it sent one."""
    return None if response is None else request_id_of(response.headers)


def _excerpt(response: httpx.Response, known: tuple[str, ...]) -> str | None:
    try:
        text = response.text
    except Exception:  # body not read, or not decodable: no excerpt rather than a crash
        return None
    return redact_text(text, limit=_EXCERPT_CHARS, known=known) if text else None


def api_error(
    response: httpx.Response,
    *,
    vendor: str,
    reason: str,
    cls: type[APIError] | None = None,
    known_secrets: tuple[str, ...] = (),
) -> APIError:
    """Build the typed error for a refused or unusable ``response``.

    Args:
        response: The reply (its body should have been read).
        vendor: Preset or dialect name.
        reason: What happened and what to do, in words (never a secret).
        cls: The error class; by default chosen from the status.
        known_secrets: Values to mask in the body excerpt (e.g. the token sent). The
            bearer token of ``response.request`` is always masked as well.
    """
    known = tuple(known_secrets)
    auth = response.request.headers.get("authorization", "")
    scheme, _, credential = auth.partition(" ")
    if credential.strip():
        known += (credential.strip(),)
    elif scheme.strip():
        known += (scheme.strip(),)
    err_cls = cls or api_error_for_status(response.status_code)
    url = safe_url(response.request.url)
    rid = request_id(response)
    method = response.request.method
    msg = f"{vendor}: {method} {url} answered {response.status_code}: {reason}"
    if rid:
        msg += f" (request id {rid})"
    return err_cls(
        msg,
        status=response.status_code,
        vendor=vendor,
        request_id=rid,
        body_excerpt=_excerpt(response, known),
        url=url,
    )
