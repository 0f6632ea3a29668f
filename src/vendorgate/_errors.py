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
    ├── TokenError                    getting or checking an access token failed
    │   ├── TokenRequestError         the token endpoint refused (status, vendor)
    │   ├── TokenResponseError        the token endpoint answered something unusable
    │   └── TokenValidationError      signature, kid, audience or expiry check failed
    ├── CacheError                    a shared cache backend failed (callers degrade)
    ├── OutputBusyError               another pull holds the output (path, lock_path)
    └── APIError                      a vendor API call failed (status, vendor, request id)
        ├── AuthenticationError       401 after one fresh token: credentials are wrong
        ├── PermissionDeniedError     403 after one fresh token: permissions are missing
        ├── RateLimitError            429 and retries exhausted
        ├── ServerError               5xx and retries exhausted
        ├── BadResponseError          unparseable / truncated body
        └── TransportError            connection errors and timeouts, retries exhausted

Third-party errors are wrapped at the boundary (``raise X(...) from exc``); statuses
are mapped to classes in one place (:func:`api_error_for_status`).
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadResponseError",
    "CacheError",
    "ConfigurationError",
    "KeyFormatError",
    "OutputBusyError",
    "PermissionDeniedError",
    "RateLimitError",
    "SecretError",
    "SecretNotFoundError",
    "SecretReferenceError",
    "ServerError",
    "TokenError",
    "TokenRequestError",
    "TokenResponseError",
    "TokenValidationError",
    "TransportError",
    "UnknownPresetError",
    "VaultAuthError",
    "VaultError",
    "VaultPermissionError",
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


class TokenError(VendorgateError):
    """Getting or checking an access token failed."""


class TokenRequestError(TokenError):
    """The token endpoint refused the request.

    Attributes:
        status: HTTP status of the reply (``None`` for transport failures).
        vendor: Preset or dialect name.
        body_excerpt: A short, redacted excerpt of the reply body.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        vendor: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        self.status = status
        self.vendor = vendor
        self.body_excerpt = body_excerpt
        super().__init__(message)


class TokenResponseError(TokenError):
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


class APIError(VendorgateError):
    """A vendor API call failed.

    Attributes:
        status: HTTP status, or ``None`` for transport failures.
        vendor: Preset or dialect name.
        request_id: The vendor's request id header, when it sent one.
        body_excerpt: A short excerpt of the body with secrets redacted.
        url: The request URL without its query string.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        vendor: str | None = None,
        request_id: str | None = None,
        body_excerpt: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.vendor = vendor
        self.request_id = request_id
        self.body_excerpt = body_excerpt
        self.url = url
        super().__init__(message)


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


class TransportError(APIError):
    """Connection errors or timeouts persisted until the retry budget ran out."""


def api_error_for_status(status: int | None) -> type[APIError]:
    """Map an HTTP status to the :class:`APIError` subclass that describes it."""
    if status is None:
        return TransportError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return APIError
