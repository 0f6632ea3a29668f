"""Build a token request in a dialect and read the reply into a :class:`Token`.

Pure functions over plain data: no I/O, no secret resolution (credentials arrive as
:class:`~vendorgate.Secret`), so every vendor's request shape is unit-testable.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vendorgate._errors import TokenRequestError, TokenResponseError
from vendorgate._secret import Secret, redact_text
from vendorgate._token import MAX_TOKEN_LIFETIME_S, Token
from vendorgate.dialects._model import ASSERTION_TYPE_JWT_BEARER, Dialect

if TYPE_CHECKING:
    from vendorgate.tokens._config import TokenConfig

__all__ = [
    "Credentials",
    "TokenRequest",
    "build_refresh_request",
    "build_token_request",
    "client_credentials_refused",
    "jwt_claims_unverified",
    "parse_token_reply",
    "status_hint",
]


@dataclass(frozen=True)
class Credentials:
    """Resolved secrets for one request (never printed)."""

    client_secret: Secret | None = None
    client_assertion: Secret | None = None
    username: Secret | None = None
    password: Secret | None = None

    def known(self) -> tuple[str, ...]:
        """Every secret value, for redaction of reply excerpts."""
        values = (self.client_secret, self.client_assertion, self.username, self.password)
        return tuple(v.reveal() for v in values if v is not None)


@dataclass(frozen=True)
class TokenRequest:
    """One token request, ready to send.

    Attributes:
        url: The token endpoint.
        encoding: ``json``, ``form`` or ``multipart``.
        fields: Body fields; secret values are :class:`~vendorgate.Secret` until
            :meth:`httpx_kwargs` (excluded from ``repr``).
        headers: Extra headers (the Basic ``Authorization`` header, a ``Secret``;
            excluded from ``repr``).
        grant: ``"primary"`` or ``"refresh"``.
    """

    url: str
    encoding: str
    fields: dict[str, Any] = field(repr=False)
    headers: dict[str, Any] = field(default_factory=dict, repr=False)
    grant: str = "primary"

    def httpx_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.post``/``AsyncClient.post``.

        Secret values stay wrapped in :class:`~vendorgate.Secret` inside the request (so a
        traceback that captures locals shows masks) and are revealed only here.
        """
        headers = {"Accept": "application/json", **{k: _plain(v) for k, v in self.headers.items()}}
        fields = {k: _plain(v) for k, v in self.fields.items()}
        if self.encoding == "json":
            return {"json": fields, "headers": headers}
        if self.encoding == "multipart":
            # (None, value) parts: plain form-data fields without a filename.
            files = [(k, (None, str(v))) for k, v in fields.items()]
            return {"files": files, "headers": headers}
        return {"data": {k: str(v) for k, v in fields.items()}, "headers": headers}

    def known(self) -> tuple[str, ...]:
        """Every secret value this request sends (body fields, the Basic credential), for
        redaction of reply excerpts."""
        out: list[str] = []
        for value in (*self.fields.values(), *self.headers.values()):
            if isinstance(value, Secret):
                text = value.reveal()
                scheme, _, credential = text.partition(" ")
                out.append(credential if scheme == "Basic" and credential else text)
        return tuple(out)


def _plain(value: Any) -> Any:
    return value.reveal() if isinstance(value, Secret) else value


def _basic_header(client_id: str, secret: Secret, *, encoding: str = "form") -> Secret:
    """``Basic base64(id:secret)``; ``form`` encodes both first (RFC 6749 section 2.3.1)."""
    if encoding == "form":
        from urllib.parse import quote_plus

        return Secret(
            "Basic "
            + base64.b64encode(
                f"{quote_plus(client_id)}:{quote_plus(secret.reveal())}".encode()
            ).decode("ascii")
        )
    return Secret(
        "Basic " + base64.b64encode(f"{client_id}:{secret.reveal()}".encode()).decode("ascii")
    )


def build_token_request(config: TokenConfig, creds: Credentials) -> TokenRequest:
    """The dialect's primary grant request (client credentials or password).

    Args:
        config: The token configuration.
        creds: The resolved secrets the chosen client authentication needs.
    """
    d = config.dialect
    method = config.effective_client_auth
    body: dict[str, Any] = {d.grant_type_field: d.grant_type}
    headers: dict[str, Any] = {}
    if method == "body":
        assert creds.client_secret is not None
        body[d.client_id_field] = config.client_id
        body[d.client_secret_field] = creds.client_secret
    elif method == "basic":
        assert creds.client_secret is not None
        headers["Authorization"] = _basic_header(
            config.client_id, creds.client_secret, encoding=d.basic_auth_encoding
        )
    else:
        assert creds.client_assertion is not None
        if d.send_client_id_with_assertion:
            body[d.client_id_field] = config.client_id
        body["client_assertion_type"] = ASSERTION_TYPE_JWT_BEARER
        body["client_assertion"] = creds.client_assertion
    if d.grant_type == "password":
        assert creds.username is not None
        assert creds.password is not None
        body[d.username_field] = creds.username
        body[d.password_field] = creds.password
    audience = config.effective_audience
    if audience is not None:
        body[d.audience_field] = audience
    if config.tenant is not None:
        body[d.tenant_field] = config.tenant
    if config.scopes:
        if d.scope_format == "array" and d.encoding == "json":
            body[d.scope_field] = list(config.scopes)
        else:
            body[d.scope_field] = " ".join(config.scopes)
    for key, value in (*d.extra_params, *config.extra_params):
        body[key] = value
    return TokenRequest(config.effective_token_url, d.encoding, body, headers, "primary")


def build_refresh_request(
    config: TokenConfig, creds: Credentials, previous: Token
) -> TokenRequest | None:
    """The dialect's refresh request for ``previous``, or ``None`` when not possible.

    TCI: ``{clientId, refresh_token, id_token, grantType: "refresh_token"}``; Wokelo:
    ``grant_type=refresh_token`` + ``refresh_token`` + client credentials, form-data.
    """
    d = config.dialect
    grant = d.refresh
    if grant is None or not d.keeps_refresh_token or not previous.refresh_token:
        return None
    body: dict[str, Any] = {grant.grant_type_field: grant.grant_type}
    body[grant.client_id_field or d.client_id_field] = config.client_id
    headers: dict[str, Any] = {}
    if grant.send_client_secret and creds.client_secret is not None:
        if config.effective_client_auth == "basic":
            headers["Authorization"] = _basic_header(
                config.client_id, creds.client_secret, encoding=d.basic_auth_encoding
            )
            del body[grant.client_id_field or d.client_id_field]
        else:
            body[d.client_secret_field] = creds.client_secret
    body[grant.refresh_token_field] = previous.refresh_token
    if grant.id_token_field is not None:
        body[grant.id_token_field] = previous.id_token or ""
    return TokenRequest(
        config.effective_token_url, grant.encoding or d.encoding, body, headers, "refresh"
    )


def client_credentials_refused(exc: TokenRequestError) -> bool:
    """Whether a token endpoint's refusal says the client credentials are wrong.

    HTTP 401 (RFC 6749 section 5.2: client authentication failed), or 400 with
    ``error=invalid_client``; a refused ``private_key_jwt`` assertion answers the same.
    A redirect or an unreachable endpoint is not such a refusal.
    """
    if exc.status == 401:
        return True
    return exc.status == 400 and "invalid_client" in (exc.body_excerpt or "")


def status_hint(status: int, *, grant: str = "primary") -> str:
    """What to do about a token endpoint's error status."""
    if grant == "refresh" and status in (400, 401, 403):
        return "the refresh token was refused; a new token will be requested with the primary grant"
    if status == 401:
        return (
            "check the client id and client secret (or private key / assertion) for this "
            "vendor; with a private key, also this host's clock (the vendor checks the "
            "assertion's iat and exp by its own clock)"
        )
    if status == 403:
        return (
            "the client is not allowed this grant, audience or scope; "
            "check its permissions with the vendor"
        )
    if status == 400:
        return "the request is malformed; check the preset, token URL, audience, tenant and scopes"
    if status == 404:
        return "no token endpoint at this URL; check token_url"
    if status == 429:
        return "the token endpoint rate-limits this client; back off and cache tokens"
    if status >= 500:
        return "the token endpoint failed; retry later"
    return "check the request configuration"


def jwt_claims_unverified(token: str) -> dict[str, Any] | None:
    """Decode a JWT's payload without verifying it (``None`` if it is not a JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


class TruncatedTokenReply(TokenResponseError):
    """A token reply that is truncated, empty or not JSON: retried like any bad body."""


def _number(value: object) -> float | None:
    """A number given as a JSON number or numeric string (``None``: not a number).

    May be NaN or infinite (``Infinity``, ``"inf"``, ``1e400``); an integer too large for
    a float (finite, but absurd) reads as +-1e300, never an ``OverflowError``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) < 10**300:
            return float(value)
        return 1e300 if value > 0 else -1e300
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_token_reply(
    config: TokenConfig,
    status: int,
    content_type: str,
    body: bytes,
    *,
    grant: str = "primary",
    known_secrets: tuple[str, ...] = (),
    retry_after: str | None = None,
    now: float | None = None,
    url: str | None = None,
    request_id: str | None = None,
    location: str | None = None,
) -> Token:
    """Read a token endpoint's reply.

    A lifetime (``expires_in``, or the JWT's ``exp`` when the reply gives none) that is
    not a finite number, or is 0 or negative, is refused; one longer than
    :data:`~vendorgate.tokens.MAX_TOKEN_LIFETIME_S` is capped at it.

    ``url`` (the safe token URL) and ``request_id`` (the reply's request id header) are
    carried by the errors, with ``status``, ``vendor`` and the redacted body excerpt.

    Raises:
        TokenRequestError: an HTTP error status (with status, vendor, a hint and a
            redacted body excerpt).
        TokenResponseError: HTML, truncated JSON, not an object, no access token, or a
            lifetime that is not a finite number > 0.
    """
    d = config.dialect
    vendor = d.name
    text = body.decode("utf-8", errors="replace")
    if 300 <= status < 400:
        where = location or "nowhere (no Location header)"
        raise TokenRequestError(
            f"{vendor} token endpoint redirected (HTTP {status}) to {where}; redirects are "
            "not followed for token requests (the credentials would go along): set token_url "
            "to the URL that answers",
            status=status,
            vendor=vendor,
            url=url,
            request_id=request_id,
        )
    if status >= 400:
        excerpt = redact_text(text, limit=200, known=known_secrets)
        hint = status_hint(status, grant=grant)
        if status == 429 and retry_after:
            hint += f" (Retry-After: {retry_after})"
        what = "refresh request" if grant == "refresh" else "token request"
        raise TokenRequestError(
            f"{vendor} {what} failed with HTTP {status}: {hint}. Reply: {excerpt or '(empty)'}",
            status=status,
            vendor=vendor,
            body_excerpt=excerpt,
            url=url,
            request_id=request_id,
        )

    def unusable(message: str) -> TokenResponseError:
        return TokenResponseError(
            message, status=status, vendor=vendor, url=url, request_id=request_id
        )

    stripped = text.lstrip()
    if stripped[:1] == "<" or "html" in content_type.lower():
        raise unusable(
            f"{vendor} token endpoint answered HTML (HTTP {status}), not a JSON token reply; "
            "check token_url (a login page or proxy answered)"
        )
    try:
        data = json.loads(text)
    except RecursionError:
        raise unusable(
            f"{vendor} token endpoint answered JSON nested too deeply to read "
            f"(HTTP {status}, {len(body)} bytes); check token_url"
        ) from None
    except ValueError:
        what = "truncated or invalid JSON" if stripped else "an empty body"
        raise TruncatedTokenReply(
            f"{vendor} token endpoint answered {what} (HTTP {status}, {len(body)} bytes); "
            "retry, and check token_url if it persists",
            status=status,
            vendor=vendor,
            url=url,
            request_id=request_id,
        ) from None
    if not isinstance(data, Mapping):
        raise unusable(
            f"{vendor} token reply is a JSON {type(data).__name__}, not an object; check token_url"
        )
    access = data.get(d.access_token_field)
    if not isinstance(access, str) or not access:
        present = ", ".join(sorted(str(k) for k in data)) or "none"
        raise unusable(
            f"{vendor} token reply has no {d.access_token_field!r} field (fields present: "
            f"{present}); check the preset's access_token_field and the request"
        )
    issued = time.time() if now is None else now
    field_name = d.lifetime_field
    lifetime = _number(data.get(field_name))
    if lifetime is None:
        claims = jwt_claims_unverified(access)
        exp = _number(claims.get("exp")) if claims else None
        if exp is not None and math.isfinite(exp) and exp <= issued:
            # already expired by this host's clock: kept as the vendor says (a clock
            # matter, judged where tokens are used)
            return _token(data, d, access, issued, exp)
        if exp is not None:
            field_name = "exp (of the access token)"
            lifetime = exp - issued if math.isfinite(exp) else exp
    if lifetime is None:
        lifetime = config.effective_default_lifetime_s
    elif not math.isfinite(lifetime):
        raise unusable(
            f"{vendor} token reply's {field_name!r} is not a finite number of seconds; "
            "the token's lifetime is unknown (ask the vendor)"
        )
    elif lifetime <= 0:
        raise unusable(
            f"{vendor} token reply's {field_name!r} says the token is already expired "
            f"({lifetime:g} s); check the vendor's clock and reply (ask the vendor)"
        )
    return _token(data, d, access, issued, issued + min(lifetime, MAX_TOKEN_LIFETIME_S))


def _token(
    data: Mapping[str, Any], d: Dialect, access: str, issued: float, expires_at: float
) -> Token:
    scope = data.get("scope")
    if isinstance(scope, list):
        scope = " ".join(str(s) for s in scope)
    elif scope is not None and not isinstance(scope, str):
        scope = str(scope)
    token_type = data.get("token_type")
    keep = d.keeps_refresh_token
    refresh = data.get("refresh_token") if keep else None
    id_token = data.get("id_token") if keep else None
    return Token(
        access_token=access,
        expires_at=float(expires_at),
        issued_at=issued,
        token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
        scope=scope,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
    )
