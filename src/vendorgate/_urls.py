"""What of a request may appear in a message or a log (a leaf module).

:func:`safe_url` drops the query string, the fragment and user info from a URL;
:func:`request_id` picks the server's request id out of reply headers. Both the token
engine and the API client use them, so an error names a URL and a request id the same way
whichever side failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

__all__ = ["REQUEST_ID_HEADERS", "request_id", "safe_url", "safe_url_or"]

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


def safe_url(url: httpx.URL | str) -> str:
    """Return ``url`` without its query string, fragment or user info (safe to log)."""
    import httpx

    u = url if isinstance(url, httpx.URL) else httpx.URL(url)
    # netloc is host[:port] without user info; raw_path keeps the percent-encoding
    path = u.raw_path.split(b"?", 1)[0].decode("ascii")
    return f"{u.scheme}://{u.netloc.decode('ascii')}{path}"


def safe_url_or(url: httpx.URL | str, fallback: str) -> str:
    """:func:`safe_url`, or ``fallback`` when ``url`` cannot be parsed (never fails)."""
    try:
        return safe_url(url)
    except Exception:  # an unparseable URL: its parts are not worth a crash in a message
        return fallback


def request_id(headers: Mapping[str, str] | None) -> str | None:
    """Return the server's request id from reply ``headers``, if it sent one."""
    if headers is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)[:128]
    return None
