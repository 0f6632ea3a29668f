"""Turning a vendor's reply into a typed :class:`~vendorgate.APIError` (one place)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate._errors import APIError, api_error_for_status
from vendorgate._secret import redact_text

if TYPE_CHECKING:
    import httpx

__all__ = ["REQUEST_ID_HEADERS", "api_error", "request_id", "safe_url"]

#: Headers vendors use for the id of a request, in the order they are looked up.
REQUEST_ID_HEADERS: tuple[str, ...] = (
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-correlation-id",
    "x-trace-id",
    "cf-ray",
)

_EXCERPT_CHARS = 200


def request_id(response: httpx.Response | None) -> str | None:
    """Return the vendor's request id header of ``response``, if it sent one."""
    if response is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)[:128]
    return None


def safe_url(url: httpx.URL | str) -> str:
    """Return ``url`` without its query string, fragment or user info (safe to log).

    The one helper is :func:`vendorgate._url.safe_url`; this name stays for callers.
    """
    from vendorgate._url import safe_url as _safe

    return _safe(url)


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
