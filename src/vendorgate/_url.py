"""URL helpers shared by every layer (a leaf module): a loggable form of a URL, the
server's request id, and the plain-HTTP guard.

``safe_url`` is the one way a URL enters a message or a log line: scheme, host, port
and path only (no user info, query string or fragment, where credentials hide).

``check_transport`` refuses ``http://`` URLs to hosts other than loopback, because a
client secret, a Vault token or a bearer token would cross the network in clear. Opt in
per setting (``allow_insecure_http=True``) or for the whole process with the
environment variable ``VENDORGATE_ALLOW_INSECURE_HTTP=1`` (as oauthlib's
``OAUTHLIB_INSECURE_TRANSPORT``). Loopback (``localhost``, ``127.0.0.0/8``, ``::1``)
is always allowed. Schemes are compared case-insensitively (``HTTPS://`` is valid).
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

__all__ = [
    "CA_BUNDLE_ENV",
    "INSECURE_HTTP_ENV",
    "REQUEST_ID_HEADERS",
    "check_bearer_transport",
    "check_transport",
    "check_verify",
    "insecure_http_allowed_by_env",
    "is_http_url",
    "is_loopback_host",
    "request_id",
    "safe_url",
    "safe_url_or",
    "tls_verify",
]

#: Environment variable that allows plain ``http://`` to any host for the process.
INSECURE_HTTP_ENV: Final = "VENDORGATE_ALLOW_INSECURE_HTTP"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})


def safe_url(url: object) -> str:
    """Return ``url`` as ``scheme://host[:port]/path`` (no user info, query or fragment).

    Never raises: an unparseable URL becomes ``"(unparseable URL)"``.

    Example:
        >>> safe_url("https://me:pw@id.example.com/oauth/token?key=s3cret#x")
        'https://id.example.com/oauth/token'
    """
    text = str(url)
    try:
        parts = urlsplit(text.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unparseable URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    scheme = parts.scheme.lower()
    if not scheme and not netloc:
        return parts.path.split("?", 1)[0] or "(empty URL)"
    return f"{scheme}://{netloc}{parts.path}"


def safe_url_or(url: object, fallback: str) -> str:
    """:func:`safe_url`, or ``fallback`` when ``url`` cannot be parsed."""
    text = safe_url(url)
    return fallback if text.startswith("(") else text


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


def request_id(headers: Mapping[str, str] | None) -> str | None:
    """Return the server's request id from reply ``headers``, if it sent one."""
    if headers is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)[:128]
    return None


def is_http_url(url: object) -> bool:
    """Whether ``url`` is a string with an ``http`` or ``https`` scheme (any case) and a host."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def insecure_http_allowed_by_env() -> bool:
    """Whether ``VENDORGATE_ALLOW_INSECURE_HTTP`` allows plain HTTP for this process."""
    return os.environ.get(INSECURE_HTTP_ENV, "").strip().lower() in _TRUE


def check_transport(url: str, *, field: str, allow_insecure_http: bool = False) -> None:
    """Refuse a plain ``http://`` ``url`` to a host other than loopback.

    Args:
        url: The URL to check (token endpoint, Vault address, API base URL).
        field: The setting's name, for the error.
        allow_insecure_http: The caller's explicit opt-in.

    Raises:
        ConfigurationError: ``url`` is ``http://`` to a non-loopback host and neither
            ``allow_insecure_http`` nor ``VENDORGATE_ALLOW_INSECURE_HTTP=1`` allows it.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return  # the caller's own validation reports unparseable URLs
    if parts.scheme.lower() != "http" or not parts.hostname:
        return
    if is_loopback_host(parts.hostname):
        return
    if allow_insecure_http or insecure_http_allowed_by_env():
        return
    raise ConfigurationError(
        f"{safe_url(url)} is plain http:// to another host: credentials and tokens would "
        f"cross the network unencrypted. Use https://, or opt in with "
        f"allow_insecure_http=True or {INSECURE_HTTP_ENV}=1 (loopback is always allowed)",
        field=field,
    )


def check_bearer_transport(url: str, source: object) -> None:
    """:func:`check_transport` for a request about to carry a bearer token of ``source``.

    The opt-in is the ``allow_insecure_http`` of the source's ``config`` (none: no opt-in);
    the error names the field ``url``.
    """
    config = getattr(source, "config", None)
    check_transport(
        url, field="url", allow_insecure_http=bool(getattr(config, "allow_insecure_http", False))
    )


#: Environment variables naming a CA bundle for HTTPS, in the order they are read.
CA_BUNDLE_ENV: Final = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def check_verify(value: object, *, field: str) -> None:
    """Validate a TLS ``verify`` setting: ``None``, ``True``/``False`` or a CA bundle path.

    Raises:
        ConfigurationError: Any other value (names ``field``).
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str) and value.strip():
        return
    raise ConfigurationError(
        "must be true (verify with the system CA store), false (do not verify: only for "
        "tests) or the path of a CA bundle file or directory",
        field=field,
    )


def tls_verify(value: bool | str | None) -> bool | ssl.SSLContext:
    """Turn a ``verify`` setting into what httpx takes.

    ``None`` uses ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE`` when set (as requests
    users expect), else the system CA store; a path builds an ``ssl.SSLContext`` from
    that CA file or directory; ``True``/``False`` pass through.
    """
    if value is None:
        for name in CA_BUNDLE_ENV:
            path = os.environ.get(name, "").strip()
            if path:
                return _ca_context(path)
        return True
    if isinstance(value, bool):
        return value
    return _ca_context(value)


def _ca_context(path: str) -> ssl.SSLContext:
    import ssl

    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load the CA bundle {path!r} ({type(exc).__name__}); give a PEM file or "
            "directory of CA certificates",
            field="verify",
        ) from None
