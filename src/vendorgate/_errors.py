"""The one error hierarchy of vendorgate.

Every error vendorgate raises derives from :class:`VendorgateError`. Messages name
the cause and the field involved and say what to do; they never contain a secret
(client secrets, private keys, passwords, access, refresh or id tokens)::

    VendorgateError
    ├── ConfigurationError            bad configuration; ``field`` names the culprit
    │   ├── UnknownPresetError        preset name not registered (lists the valid ones)
    │   └── SecretReferenceError      a secret reference that does not parse
    ├── SecretError                   a secret could not be obtained
    │   ├── SecretNotFoundError       missing Vault path/key, unset env var, missing file
    │   ├── KeyFormatError            malformed or wrong-type PEM / key
    │   └── VaultError                Vault said no, or could not be reached
    │       ├── VaultAuthError        login failed (bad token, role, JWT)
    │       ├── VaultPermissionError  policy does not allow the path
    │       └── VaultUnavailableError sealed, unreachable, or answering garbage
    │           └── VaultTransportError ·········· Vault could not be reached   (*)
    ├── TokenError                    getting or checking an access token failed
    │   ├── TokenRequestError         the token endpoint refused (+ reply details)
    │   │   └── TokenTransportError ·············· token endpoint not reached   (*)
    │   ├── TokenResponseError        the token endpoint answered something unusable
    │   └── TokenValidationError      signature, kid, audience or expiry check failed
    ├── CacheError                    a shared cache backend failed (callers degrade)
    ├── OutputBusyError               another pull holds the output (path, lock_path)
    ├── APIError                      a vendor API call failed (+ reply details)
    │   ├── AuthenticationError       401 after one fresh token: credentials are wrong
    │   ├── PermissionDeniedError     403 after one fresh token: permissions are missing
    │   ├── RateLimitError            429 and retries exhausted
    │   ├── ServerError               5xx and retries exhausted
    │   ├── BadResponseError          unparseable / truncated body
    │   └── APITransportError ···················· vendor API not reached       (*)
    └── TransportError                a server could not be reached (connection refused,
                                      DNS, reset, timeout), retries exhausted; the (*)
                                      classes derive from it as well

``except TransportError`` catches "could not reach" wherever it happened (token endpoint,
vendor API, Vault), while the narrower clauses (``except TokenRequestError``, ``except
APIError``, ``except VaultUnavailableError``) keep catching what they always did.

*Reply details*: :class:`TokenRequestError`, :class:`TokenResponseError`,
:class:`APIError` and :class:`TransportError` share one set of attributes (see
:class:`ReplyDetails`): ``status``, ``vendor``, ``url`` (without query string or user
info), ``request_id`` and ``body_excerpt`` (short, secrets redacted); what is unknown is
``None``.

Third-party errors are wrapped at the boundary (``raise X(...) from exc``); statuses
are mapped to classes in one place (:func:`api_error_for_status`). No public class is
used as an internal retry signal: the retry engine (``vendorgate._retry``) has its own.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "APITransportError",
    "AuthenticationError",
    "BadResponseError",
    "CacheError",
    "ConfigurationError",
    "KeyFormatError",
    "OutputBusyError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReplyDetails",
    "SecretError",
    "SecretNotFoundError",
    "SecretReferenceError",
    "ServerError",
    "TokenError",
    "TokenRequestError",
    "TokenResponseError",
    "TokenTransportError",
    "TokenValidationError",
    "TransportError",
    "UnknownPresetError",
    "VaultAuthError",
    "VaultError",
    "VaultPermissionError",
    "VaultTransportError",
    "VaultUnavailableError",
    "VendorgateError",
    "api_error_for_status",
]


class VendorgateError(Exception):
    """Base class of every vendorgate error."""


class ConfigurationError(VendorgateError, ValueError):
    """Configuration is invalid.

    Attributes:
        field: The configuration field at fault (e.g. ``"client_id"``), if known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class UnknownPresetError(ConfigurationError):
    """The preset name is not registered."""


class SecretReferenceError(ConfigurationError):
    """A secret reference (``vault:``, ``env:``, ``file:``) does not parse."""


class SecretError(VendorgateError):
    """A secret could not be obtained."""


class SecretNotFoundError(SecretError, LookupError):
    """The referenced secret does not exist (Vault path or key, env var, file)."""


class KeyFormatError(SecretError, ValueError):
    """A key is malformed or of the wrong type for the chosen algorithm."""


class VaultError(SecretError):
    """Vault refused a request or could not be reached."""


class VaultAuthError(VaultError):
    """Logging in to Vault failed."""


class VaultPermissionError(VaultError, PermissionError):
    """Vault's policy does not allow this path for this identity."""


class VaultUnavailableError(VaultError):
    """Vault is sealed, unreachable, or answered something that is not Vault."""


class ReplyDetails(VendorgateError):
    """What is known about a failed exchange with a server (shared attributes).

    The base of :class:`TokenRequestError`, :class:`TokenResponseError`,
    :class:`APIError` and :class:`TransportError`, so a handler reads the same
    attributes whichever of them it caught.

    Attributes:
        status: HTTP status of the reply (``None`` when no reply came).
        vendor: Preset or dialect name (``"vault"`` for Vault).
        url: The request URL without query string, fragment or user info.
        request_id: The server's request id header, when it sent one.
        body_excerpt: A short excerpt of the reply body with secrets redacted.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        vendor: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        self.status = status
        self.vendor = vendor
        self.url = url
        self.request_id = request_id
        self.body_excerpt = body_excerpt
        super().__init__(message)

    def details(self) -> dict[str, object]:
        """The shared attributes as keyword arguments (to build a related error)."""
        return {
            "status": self.status,
            "vendor": self.vendor,
            "url": self.url,
            "request_id": self.request_id,
            "body_excerpt": self.body_excerpt,
        }


class TransportError(ReplyDetails):
    """A server could not be reached (connection refused or reset, DNS, TLS, timeout).

    Raised once retries have run out, as one of :class:`TokenTransportError`,
    :class:`APITransportError` or :class:`VaultTransportError`; ``status`` is ``None``.
    """


class VaultTransportError(TransportError, VaultUnavailableError):
    """Vault could not be reached (connection, TLS handshake, timeout)."""


class TokenError(VendorgateError):
    """Getting or checking an access token failed."""


class TokenRequestError(TokenError, ReplyDetails):
    """The token endpoint refused the request, or could not be reached.

    Attributes: see :class:`ReplyDetails` (``status`` is ``None`` when the endpoint could
    not be reached: then the error is a :class:`TokenTransportError`).
    """


class TokenTransportError(TransportError, TokenRequestError):
    """The token endpoint could not be reached, retries exhausted."""


class TokenResponseError(TokenError, ReplyDetails):
    """The token endpoint answered with something that is not a usable token reply."""


class TokenValidationError(TokenError):
    """An access token failed validation (signature, unknown kid, audience, expiry)."""


class CacheError(VendorgateError):
    """A shared cache backend failed. Callers degrade to the memory level."""


class OutputBusyError(VendorgateError):
    """Another pull is writing the same output; this one stopped before touching it.

    Attributes:
        path: The output (local path or fsspec URL) both pulls write.
        lock_path: The lock file or claim object the other pull holds.
    """

    def __init__(self, message: str, *, path: str, lock_path: str) -> None:
        self.path = path
        self.lock_path = lock_path
        super().__init__(message)


class APIError(ReplyDetails):
    """A vendor API call failed.

    Attributes: see :class:`ReplyDetails`.
    """


class AuthenticationError(APIError):
    """The API refused a freshly fetched token: the credentials are wrong."""


class PermissionDeniedError(APIError):
    """The API refused the call with a fresh token: the client lacks permissions."""


class RateLimitError(APIError):
    """The API kept answering 429 until the retry budget ran out."""


class ServerError(APIError):
    """The API kept answering 5xx until the retry budget ran out."""


class BadResponseError(APIError):
    """The API answered with a body that cannot be parsed (HTML, truncated JSON)."""


class APITransportError(TransportError, APIError):
    """The vendor API could not be reached (connection errors, timeouts), retries exhausted."""


def api_error_for_status(status: int | None) -> type[APIError]:
    """Map an HTTP status to the :class:`APIError` subclass that describes it."""
    if status is None:
        return APITransportError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return APIError
