"""The declarative token dialect: how one vendor wants a token asked for and answered.

A :class:`Dialect` is plain, frozen data. Presets (``techwolf-eu``, ``tci-atm``, ...) are
instances registered by name; users override any field, or write a whole new dialect,
as a mapping (a dict, a TOML table, an Airflow connection's extras JSON)::

    {"base": "oauth2-post", "name": "acme", "token_url": "https://id.acme.test/token",
     "encoding": "json", "scope_format": "array", "scope_field": "scopes"}

Every field is validated at construction; errors are
:class:`~vendorgate.ConfigurationError` naming the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal, cast

from vendorgate import _validate as check
from vendorgate._errors import ConfigurationError
from vendorgate._url import is_http_url, safe_url

__all__ = [
    "ASSERTION_TYPE_JWT_BEARER",
    "CLIENT_AUTH_METHODS",
    "ENCODINGS",
    "ClientAuth",
    "Dialect",
    "Encoding",
    "RefreshGrant",
    "ScopeFormat",
]

Encoding = Literal["json", "form", "multipart"]
ClientAuth = Literal["body", "basic", "assertion"]
ScopeFormat = Literal["space", "array"]
BasicAuthEncoding = Literal["form", "raw"]

ENCODINGS: Final[tuple[str, ...]] = ("json", "form", "multipart")
CLIENT_AUTH_METHODS: Final[tuple[str, ...]] = ("body", "basic", "assertion")
SCOPE_FORMATS: Final[tuple[str, ...]] = ("space", "array")
BASIC_AUTH_ENCODINGS: Final[tuple[str, ...]] = ("form", "raw")
ASSERTION_TYPE_JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _check_str(value: object, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise ConfigurationError(
            f"must be a non-empty string, got {type(value).__name__}", field=name
        )


def _check_choice(value: object, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigurationError(f"must be one of {', '.join(choices)}; got {value!r}", field=name)


def _statuses(value: object, name: str) -> frozenset[int]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigurationError("must be a list of HTTP status codes", field=name)
    out: set[int] = set()
    for item in cast("Any", value):
        if isinstance(item, bool) or not isinstance(item, int) or not 400 <= item <= 599:
            raise ConfigurationError(
                f"must contain HTTP error statuses (400-599), got {item!r}", field=name
            )
        out.add(item)
    if not out:
        raise ConfigurationError("must name at least one status (usually 401)", field=name)
    return frozenset(out)


@dataclass(frozen=True)
class RefreshGrant:
    """How a dialect's refresh request looks (sent when a refresh token is kept).

    Attributes:
        grant_type: Value of the grant field (``"refresh_token"``).
        grant_type_field: Name of the grant field; TCI uses ``"grantType"`` here while
            its primary request uses ``"grant_types"``.
        refresh_token_field: Field carrying the refresh token.
        id_token_field: Field carrying the ID token (TCI), or ``None``.
        client_id_field: Field carrying the client id; ``None`` uses the dialect's.
        send_client_secret: Whether the client secret goes along (Wokelo: yes, TCI: no).
        encoding: Body encoding; ``None`` uses the dialect's.
    """

    grant_type: str = "refresh_token"
    grant_type_field: str = "grant_type"
    refresh_token_field: str = "refresh_token"
    id_token_field: str | None = None
    client_id_field: str | None = None
    send_client_secret: bool = True
    encoding: Encoding | None = None

    def __post_init__(self) -> None:
        _check_str(self.grant_type, "refresh.grant_type")
        _check_str(self.grant_type_field, "refresh.grant_type_field")
        _check_str(self.refresh_token_field, "refresh.refresh_token_field")
        _check_str(self.id_token_field, "refresh.id_token_field", optional=True)
        _check_str(self.client_id_field, "refresh.client_id_field", optional=True)
        if not isinstance(self.send_client_secret, bool):
            raise ConfigurationError("must be true or false", field="refresh.send_client_secret")
        if self.encoding is not None:
            _check_choice(self.encoding, "refresh.encoding", ENCODINGS)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, base: RefreshGrant | None = None
    ) -> RefreshGrant:
        """Build from a mapping, optionally overriding ``base``; unknown keys are errors."""
        if not isinstance(data, Mapping):
            raise ConfigurationError("must be a table/object of refresh settings", field="refresh")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigurationError(
                    f"unknown refresh setting {key!r}; valid: {', '.join(sorted(known))}",
                    field=f"refresh.{key}",
                )
        return dataclasses.replace(base or cls(), **dict(data))

    def to_mapping(self) -> dict[str, Any]:
        """Plain-value form (inverse of :meth:`from_mapping`)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Dialect:
    """How one vendor's token endpoint wants to be asked, and how to read its reply.

    Attributes:
        name: Preset or dialect name, used in errors and logs.
        description: One line shown by ``vendorgate presets``.
        token_url: Default token URL, or ``None`` when every user has their own.
        encoding: Request body encoding: ``json``, ``form`` (urlencoded) or
            ``multipart`` (form-data).
        client_auth: Default client authentication: ``body`` (id and secret as body
            fields), ``basic`` (HTTP Basic, RFC 6749 client_secret_basic) or
            ``assertion`` (private_key_jwt, RFC 7523).
        supported_client_auth: Client authentications this vendor accepts.
        grant_type: Value of the grant field (``client_credentials``, ``password``).
        grant_type_field: Name of the grant field (TCI: ``grant_types``).
        client_id_field: Name of the client id field (TCI: ``clientId``).
        client_secret_field: Name of the client secret field (TCI: ``clientSecret``).
        username_field: Name of the username field (password grant).
        password_field: Name of the password field (password grant).
        audience: Default audience, sent in ``audience_field``; ``None`` sends none.
        audience_field: Name of the audience field.
        tenant_field: Name of the tenant field (sent only when a tenant is configured).
        scope_field: Name of the scope field (``scope`` or ``scopes``).
        scope_format: ``space`` (one space-separated string) or ``array`` (JSON array).
        send_client_id_with_assertion: Whether the client id is also sent next to a
            client assertion (RFC 7523 makes it optional; TechWolf's sample omits it).
        extra_params: Constant extra body fields.
        access_token_field: Reply field holding the access token.
        lifetime_field: Reply field holding the lifetime in seconds (``expires_in``;
            TCI: ``exp_access_token``). When absent, the access token's JWT ``exp``
            claim is used, then ``default_lifetime_s``.
        default_lifetime_s: Lifetime assumed when the reply says nothing.
        keeps_refresh_token: Whether a refresh token from the reply is kept and used.
        refresh: The refresh request's shape (``None``: refresh is not supported).
        invalid_token_statuses: API statuses that mean "this token is no longer good".
        jwks_path: Where the JWKS that signs access tokens is published: an absolute
            URL, a path from the token URL's origin (``/auth/keys``), or a path relative
            to the token URL (``.well-known/jwks.json`` next to ``.../auth/token``);
            ``None``: tokens are not validated.
        jwks_audience: Expected ``aud`` of validated tokens: ``"client_id"`` (the
            configured client id), another literal value, or ``None`` (not checked).
        jwks_algorithms: Accepted signature algorithms for validated tokens.
        basic_auth_encoding: How HTTP Basic client credentials are built: ``form``
            (default, RFC 6749 section 2.3.1: client id and secret are
            form-urlencoded, then ``base64(id:secret)``) or ``raw`` (``base64`` of the
            plain ``id:secret``, for a vendor whose document says exactly that and that
            does not decode). The two differ only when the id or secret holds
            characters other than letters, digits and ``-._~``.
        required_fields: Token settings every request to this vendor needs, as
            :class:`~vendorgate.tokens.TokenConfig` field names (TechWolf:
            ``("tenant",)``). A ``TokenConfig`` without one of them (or with an empty
            string) is refused when it is built, with a
            :class:`~vendorgate.ConfigurationError` naming the field, whichever way it
            is built (Python, an Airflow connection, a Prefect block, the CLI); a value
            the dialect itself supplies (its ``audience``) counts as given.
    """

    name: str
    description: str = ""
    token_url: str | None = None
    encoding: Encoding = "form"
    client_auth: ClientAuth = "body"
    supported_client_auth: frozenset[str] = frozenset({"body"})
    grant_type: str = "client_credentials"
    grant_type_field: str = "grant_type"
    client_id_field: str = "client_id"
    client_secret_field: str = "client_secret"
    username_field: str = "username"
    password_field: str = "password"
    audience: str | None = None
    audience_field: str = "audience"
    tenant_field: str = "tenant"
    scope_field: str = "scope"
    scope_format: ScopeFormat = "space"
    send_client_id_with_assertion: bool = False
    extra_params: tuple[tuple[str, str], ...] = ()
    access_token_field: str = "access_token"
    lifetime_field: str = "expires_in"
    default_lifetime_s: float = 3600.0
    keeps_refresh_token: bool = False
    refresh: RefreshGrant | None = None
    invalid_token_statuses: frozenset[int] = field(default_factory=lambda: frozenset({401}))
    jwks_path: str | None = None
    jwks_audience: str | None = None
    jwks_algorithms: tuple[str, ...] = ("RS256",)
    basic_auth_encoding: BasicAuthEncoding = "form"
    required_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_str(self.name, "name")
        if not isinstance(self.description, str):
            raise ConfigurationError("must be a string", field="description")
        _check_str(self.token_url, "token_url", optional=True)
        if self.token_url is not None and not is_http_url(self.token_url):
            raise ConfigurationError(
                f"must be an http(s) URL, got {safe_url(self.token_url)!r}", field="token_url"
            )
        _check_choice(self.encoding, "encoding", ENCODINGS)
        _check_choice(self.client_auth, "client_auth", CLIENT_AUTH_METHODS)
        _check_choice(self.basic_auth_encoding, "basic_auth_encoding", BASIC_AUTH_ENCODINGS)
        supported: Any = self.supported_client_auth
        if isinstance(supported, str) or not hasattr(supported, "__iter__"):
            raise ConfigurationError(
                "must be a list of client auth methods", field="supported_client_auth"
            )
        supported = frozenset(supported)
        for method in supported:
            _check_choice(method, "supported_client_auth", CLIENT_AUTH_METHODS)
        if self.client_auth not in supported:
            supported = supported | {self.client_auth}
        object.__setattr__(self, "supported_client_auth", supported)
        for name in (
            "grant_type",
            "grant_type_field",
            "client_id_field",
            "client_secret_field",
            "username_field",
            "password_field",
            "audience_field",
            "tenant_field",
            "scope_field",
            "access_token_field",
            "lifetime_field",
        ):
            _check_str(getattr(self, name), name)
        _check_str(self.audience, "audience", optional=True)
        _check_choice(self.scope_format, "scope_format", SCOPE_FORMATS)
        for name in ("send_client_id_with_assertion", "keeps_refresh_token"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError("must be true or false", field=name)
        extra = self.extra_params
        if isinstance(extra, Mapping):
            extra = tuple(extra.items())
        try:
            extra = tuple((str(k), str(v)) for k, v in extra)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                "must be a table of name = value", field="extra_params"
            ) from exc
        object.__setattr__(self, "extra_params", tuple(sorted(extra)))
        lifetime = check.seconds(self.default_lifetime_s, "default_lifetime_s")
        object.__setattr__(self, "default_lifetime_s", lifetime)
        refresh: Any = self.refresh
        if refresh is not None and not isinstance(refresh, RefreshGrant):
            if isinstance(refresh, Mapping):
                object.__setattr__(self, "refresh", RefreshGrant.from_mapping(refresh))
            else:
                raise ConfigurationError(
                    "must be a table of refresh settings or null", field="refresh"
                )
        if self.keeps_refresh_token and self.refresh is None:
            raise ConfigurationError(
                "keeps_refresh_token is true but no refresh grant is described; "
                "add a 'refresh' table",
                field="refresh",
            )
        object.__setattr__(
            self,
            "invalid_token_statuses",
            _statuses(self.invalid_token_statuses, "invalid_token_statuses"),
        )
        _check_str(self.jwks_path, "jwks_path", optional=True)
        _check_str(self.jwks_audience, "jwks_audience", optional=True)
        algs: Any = self.jwks_algorithms
        if isinstance(algs, str) or not algs:
            raise ConfigurationError(
                "must be a non-empty list such as ['RS256']", field="jwks_algorithms"
            )
        object.__setattr__(self, "jwks_algorithms", tuple(str(a) for a in algs))
        required: Any = self.required_fields
        if isinstance(required, str) or not all(isinstance(r, str) and r for r in required):
            raise ConfigurationError(
                "must be a list of token setting names such as ['tenant']",
                field="required_fields",
            )
        object.__setattr__(self, "required_fields", tuple(required))

    # -- mapping form -------------------------------------------------------------------

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of every field a mapping may set."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Dialect:
        """Build a dialect from plain values (a dict, a TOML table, connection extras).

        ``base`` names a registered preset to start from (its ``name`` is kept unless
        overridden); every other key overrides a field. ``refresh`` may be a table,
        merged over the base's refresh grant.

        Raises:
            UnknownPresetError: ``base`` is not a registered preset.
            ConfigurationError: an unknown key or an invalid value (names the key).
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError("a dialect must be a table/object", field="dialect")
        values = dict(data)
        base_name = values.pop("base", None)
        base: Dialect | None = None
        if base_name is not None:
            from vendorgate.dialects._registry import get_dialect

            if not isinstance(base_name, str):
                raise ConfigurationError("must be a preset name", field="base")
            base = get_dialect(base_name)
        return (base or _EMPTY).with_overrides(values, require_name=base is None)

    def with_overrides(
        self, overrides: Mapping[str, Any], *, require_name: bool = False
    ) -> Dialect:
        """Return a copy with ``overrides`` applied (same rules as :meth:`from_mapping`)."""
        known = set(self.field_names())
        values: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in known:
                raise ConfigurationError(
                    f"unknown dialect setting {key!r}; valid settings: {', '.join(sorted(known))}",
                    field=str(key),
                )
            values[key] = value
        if require_name and "name" not in values:
            raise ConfigurationError("a dialect without 'base' needs a 'name'", field="name")
        if isinstance(values.get("refresh"), Mapping):
            values["refresh"] = RefreshGrant.from_mapping(values["refresh"], base=self.refresh)
        for key in ("supported_client_auth", "invalid_token_statuses"):
            if key in values and isinstance(values[key], (list, tuple, set, frozenset)):
                values[key] = frozenset(values[key])
        if "jwks_algorithms" in values and isinstance(values["jwks_algorithms"], list):
            values["jwks_algorithms"] = tuple(values["jwks_algorithms"])
        try:
            return dataclasses.replace(self, **values)
        except TypeError as exc:  # pragma: no cover - guarded by the key check above
            raise ConfigurationError(str(exc), field="dialect") from exc

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON/TOML-ready values; ``Dialect.from_mapping`` rebuilds an equal dialect."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif f.name == "extra_params":
                value = dict(value)
            elif f.name in ("jwks_algorithms", "required_fields"):
                value = list(value)
            elif isinstance(value, RefreshGrant):
                value = value.to_mapping()
            out[f.name] = value
        return out


# The neutral starting point of dialects written from scratch (RFC 6749 client_secret_post).
_EMPTY: Final = Dialect(name="custom")
