"""``TokenConfig``: everything needed to ask one vendor for a token, secrets as references.

A config is frozen and validated at construction (errors name the field). Its secret
fields hold *references* (``vault:secret/acme#client_secret``, ``env:ACME_SECRET``,
``file:/run/secrets/acme``), so :meth:`TokenConfig.to_mapping` is plain JSON that an
Airflow trigger or another process can turn back into the same config with
:meth:`TokenConfig.from_mapping`. A secret a framework already holds may be given as a
*value* instead (a :class:`~vendorgate.Secret` or a pydantic ``SecretStr``); such a config
works, but :meth:`~TokenConfig.to_mapping` refuses to write it out (an error naming the
field, never a silent drop).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Final

from vendorgate import _validate as check
from vendorgate._errors import ConfigurationError
from vendorgate._secret import Secret
from vendorgate.dialects._model import CLIENT_AUTH_METHODS, Dialect
from vendorgate.dialects._registry import list_dialects
from vendorgate.signing._protocol import SUPPORTED_ALGORITHMS
from vendorgate.signing._transit import parse_transit_key

if TYPE_CHECKING:
    from vendorgate.secrets import VaultSettings

__all__ = ["SIGNING_ALGORITHMS", "TokenConfig"]

#: Client assertion algorithms: exactly those the signers (PEM and Transit) support.
SIGNING_ALGORITHMS: Final = SUPPORTED_ALGORITHMS
_SECRET_REF_FIELDS: Final = ("client_secret", "private_key", "username", "password")


def _check_secret(value: object, name: str) -> object:
    """A reference (checked) or a secret value (as a :class:`Secret`); returns what to keep."""
    if value is None:
        return None
    from vendorgate.secrets._ref import parse_secret_ref
    from vendorgate.secrets._resolver import secret_value

    as_value = secret_value(value)
    if as_value is not None:
        return as_value
    parse_secret_ref(value, field=name)  # type: ignore[arg-type]
    return value


@dataclass(frozen=True)
class TokenConfig:
    """One client's token request for one vendor.

    Attributes:
        dialect: The vendor's dialect (a preset from :func:`vendorgate.dialects.get_dialect`
            or a custom :class:`~vendorgate.dialects.Dialect`).
        client_id: The client id (an identifier, not a secret).
        token_url: Token endpoint; ``None`` uses the dialect's default.
        client_secret: Secret reference to the client secret, or the secret itself as
            a :class:`~vendorgate.Secret` / pydantic ``SecretStr`` (a value a framework
            already holds; such a config cannot be written out by :meth:`to_mapping`).
            The same holds for ``private_key``, ``username`` and ``password``.
        private_key: Secret reference to a PEM private key (private_key_jwt).
        transit_key: Vault Transit key that signs client assertions, as
            ``<mount>/<name>`` (e.g. ``transit/techwolf``); the key never leaves Vault.
        username: Secret reference to the username (password grant).
        password: Secret reference to the password (password grant).
        client_auth: ``body``, ``basic`` or ``assertion``; ``None`` picks ``assertion``
            when a key is configured and the dialect supports it, else the dialect's.
        signing_alg: Client assertion algorithm: RS256, PS256 or ES256.
        signing_kid: ``kid`` header of client assertions, when the vendor wants one;
            ``"thumbprint"``: the RFC 7638 thumbprint of the public key (the default for
            a Transit key; a PEM key sends no ``kid`` unless one is given).
        assertion_audience: ``aud`` of client assertions (default: the token URL).
        assertion_lifetime_s: Client assertion lifetime, 60 to 600 seconds.
        audience: Audience sent in the request; ``None`` uses the dialect's default.
        tenant: Tenant sent in the request, if any; required by the TechWolf presets
            (a dialect's ``required_fields`` are checked at construction).
        scopes: Scopes requested, sent as the dialect says (array or space-separated).
        extra_params: Extra request fields, e.g. ``{"lwt_client_id": "..."}`` for Lone
            Wolf. Plain, non-secret values only.
        vault: How to reach and log in to Vault; ``None``: ``VAULT_*`` environment
            variables, read when a ``vault:`` reference or a Transit key is first used.
        default_lifetime_s: Lifetime assumed when neither the reply nor the token's
            ``exp`` says (``None``: the dialect's default).
        timeout_s: Timeout of the token request, in seconds.
        validate_tokens: Verify access tokens against the dialect's JWKS, if it has one.
        jwks_url: JWKS URL override (default: from the dialect's ``jwks_path``).
        expected_audience: Expected ``aud`` of validated tokens (default: from the
            dialect's ``jwks_audience``; ``None`` there: ``aud`` is not checked, as for
            ``tci-atm``, whose tokens carry an application id, not the client id).
        verify: TLS verification of the token and JWKS requests: ``None`` (default:
            ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE`` if set, else the system CA
            store), ``True``, ``False`` (tests only) or the path of a CA bundle.
        allow_insecure_http: Allow plain ``http://`` token, JWKS and API URLs to hosts
            other than loopback (credentials and tokens then travel unencrypted; also
            allowed process-wide by ``VENDORGATE_ALLOW_INSECURE_HTTP=1``).
    """

    dialect: Dialect
    client_id: str
    token_url: str | None = None
    client_secret: str | Secret | None = None
    private_key: str | Secret | None = None
    transit_key: str | None = None
    username: str | Secret | None = None
    password: str | Secret | None = None
    client_auth: str | None = None
    signing_alg: str = "RS256"
    signing_kid: str | None = None
    assertion_audience: str | None = None
    assertion_lifetime_s: float = 300.0
    audience: str | None = None
    tenant: str | None = None
    scopes: tuple[str, ...] = ()
    extra_params: tuple[tuple[str, str], ...] = ()
    vault: VaultSettings | None = None
    default_lifetime_s: float | None = None
    timeout_s: float = 30.0
    validate_tokens: bool = True
    jwks_url: str | None = None
    expected_audience: str | None = None
    verify: bool | str | None = None
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.dialect, Dialect):
            raise ConfigurationError(
                "must be a Dialect; use get_dialect('NAME') or Dialect.from_mapping(...)",
                field="dialect",
            )
        check.text(
            self.client_id, "client_id", message="is required: the client id the vendor gave you"
        )
        url = self.token_url or self.dialect.token_url
        if url is None:
            raise ConfigurationError(
                f"preset {self.dialect.name!r} has no default token URL; give token_url "
                "(e.g. https://id.example.com/oauth/token)",
                field="token_url",
            )
        self._check_transport(url)
        for name in _SECRET_REF_FIELDS:
            object.__setattr__(self, name, _check_secret(getattr(self, name), name))
        if self.transit_key is not None:
            parse_transit_key(self.transit_key)  # the signer's own parser: one rule
        if self.private_key is not None and self.transit_key is not None:
            raise ConfigurationError(
                "give either private_key (a PEM reference) or transit_key, not both",
                field="private_key",
            )
        check.one_of(self.signing_alg, SIGNING_ALGORITHMS, "signing_alg")
        check.number(
            self.assertion_lifetime_s,
            "assertion_lifetime_s",
            minimum=60,
            maximum=600,
            message="must be between 60 and 600 seconds (vendors accept 1 to 10 minutes)",
        )
        # Normalise collections so that equal configs compare (and hash) equal.
        scopes: Any = self.scopes
        if isinstance(scopes, str):
            scopes = tuple(scopes.split())
        try:
            scopes = tuple(str(s) for s in scopes)
        except TypeError:
            raise ConfigurationError("must be a list of scope names", field="scopes") from None
        if any(not s or " " in s for s in scopes):
            raise ConfigurationError(
                "scope names must be non-empty and contain no spaces", field="scopes"
            )
        object.__setattr__(self, "scopes", scopes)
        extra: Any = self.extra_params
        if isinstance(extra, Mapping):
            extra = tuple(extra.items())
        try:
            extra = tuple(sorted((str(k), str(v)) for k, v in extra))
        except (TypeError, ValueError):
            raise ConfigurationError(
                "must be a table of name = value", field="extra_params"
            ) from None
        object.__setattr__(self, "extra_params", extra)
        if self.default_lifetime_s is not None:
            check.seconds(self.default_lifetime_s, "default_lifetime_s", or_none=True)
        check.seconds(self.timeout_s, "timeout_s")
        if self.vault is not None:
            from vendorgate.secrets import VaultSettings

            if isinstance(self.vault, Mapping):
                object.__setattr__(self, "vault", VaultSettings.from_mapping(self.vault))
            elif not isinstance(self.vault, VaultSettings):
                raise ConfigurationError("must be VaultSettings or a table of them", field="vault")
        self._check_credentials()
        self._check_required_fields()

    def _check_transport(self, url: object) -> None:
        from vendorgate._url import check_transport, check_verify, is_http_url

        if not is_http_url(url):
            raise ConfigurationError("must be an http(s) URL", field="token_url")
        if not isinstance(self.allow_insecure_http, bool):
            raise ConfigurationError("must be true or false", field="allow_insecure_http")
        check_verify(self.verify, field="verify")
        assert isinstance(url, str)
        check_transport(url, field="token_url", allow_insecure_http=self.allow_insecure_http)
        if self.jwks_url is not None:
            check_transport(
                self.jwks_url, field="jwks_url", allow_insecure_http=self.allow_insecure_http
            )

    def _check_credentials(self) -> None:
        d = self.dialect
        auth = self.client_auth
        if auth is not None:
            check.one_of(auth, CLIENT_AUTH_METHODS, "client_auth")
            if auth not in d.supported_client_auth:
                raise ConfigurationError(
                    f"preset {d.name!r} supports {', '.join(sorted(d.supported_client_auth))}, "
                    f"not {auth!r}",
                    field="client_auth",
                )
        method = self.effective_client_auth
        has_key = self.private_key is not None or self.transit_key is not None
        if method == "assertion":
            if not has_key:
                raise ConfigurationError(
                    "private_key_jwt needs a signing key: give private_key (a PEM reference) "
                    "or transit_key (e.g. transit/techwolf)",
                    field="private_key",
                )
        else:
            if self.client_secret is None:
                hint = (
                    " (or a private_key / transit_key for private_key_jwt)"
                    if "assertion" in d.supported_client_auth
                    else ""
                )
                raise ConfigurationError(
                    f"is required for preset {d.name!r} with client_auth {method!r}{hint}",
                    field="client_secret",
                )
            if has_key:
                if "assertion" in d.supported_client_auth:
                    fix = f"remove the key, or the client_auth {method!r} setting"
                else:
                    jwt_presets = ", ".join(
                        p.name
                        for p in list_dialects(include_custom=False)
                        if "assertion" in p.supported_client_auth
                    )
                    fix = (
                        "remove the key (private_key / transit_key, --private-key / "
                        f"--transit-key), or use a preset that supports it: {jwt_presets}"
                    )
                raise ConfigurationError(
                    f"a signing key is configured but preset {d.name!r} does not use "
                    f"private_key_jwt here; {fix}",
                    field="private_key" if self.private_key is not None else "transit_key",
                )
        if d.grant_type == "password":
            for name in ("username", "password"):
                if getattr(self, name) is None:
                    raise ConfigurationError(
                        f"is required by the password grant of preset {d.name!r}", field=name
                    )

    def _check_required_fields(self) -> None:
        """Refuse a config missing a setting its dialect says every request needs.

        A value the dialect itself supplies (its default audience) counts as given; an
        empty or blank string counts as missing (an unfilled form field).
        """
        d = self.dialect
        known = {f.name for f in fields(self)} - {"dialect"}
        for name in d.required_fields:
            if name not in known:
                raise ConfigurationError(
                    f"names {name!r}, which is not a token setting; valid: "
                    f"{', '.join(sorted(known))}",
                    field="dialect.required_fields",
                )
            value = getattr(self, f"effective_{name}", None) or getattr(self, name)
            if value is None or value == () or (isinstance(value, str) and not value.strip()):
                raise ConfigurationError(
                    f"is required by preset {d.name!r} (the vendor refuses token requests "
                    "without it); set it to the value the vendor gave you",
                    field=name,
                )

    # -- derived values ----------------------------------------------------------------

    @property
    def vendor(self) -> str:
        """The dialect's name."""
        return self.dialect.name

    @property
    def effective_token_url(self) -> str:
        """The token URL actually used."""
        url = self.token_url or self.dialect.token_url
        assert url is not None  # checked at construction
        return url

    @property
    def effective_audience(self) -> str | None:
        """The audience actually sent (``None``: none)."""
        return self.audience if self.audience is not None else self.dialect.audience

    @property
    def effective_client_auth(self) -> str:
        """The client authentication actually used."""
        if self.client_auth is not None:
            return self.client_auth
        has_key = self.private_key is not None or self.transit_key is not None
        if has_key and "assertion" in self.dialect.supported_client_auth:
            return "assertion"
        return self.dialect.client_auth

    @property
    def effective_default_lifetime_s(self) -> float:
        """Lifetime assumed when the reply and the token say nothing."""
        return float(self.default_lifetime_s or self.dialect.default_lifetime_s)

    @property
    def effective_jwks_url(self) -> str | None:
        """The JWKS URL used to validate access tokens, or ``None`` (no validation)."""
        if not self.validate_tokens:
            return None
        if self.jwks_url:
            return self.jwks_url
        path = self.dialect.jwks_path
        if path is None:
            return None
        from vendorgate._url import is_http_url

        if is_http_url(path):
            return path
        from urllib.parse import urljoin

        return urljoin(self.effective_token_url, path)

    @property
    def effective_expected_audience(self) -> str | None:
        """The ``aud`` validated tokens must carry (``None``: not checked)."""
        if self.expected_audience is not None:
            return self.expected_audience
        aud = self.dialect.jwks_audience
        return self.client_id if aud == "client_id" else aud

    @property
    def cache_key(self) -> str:
        """A stable key from the non-secret identity of this token request.

        Hashes the dialect name, token URL, client id, audience, tenant, sorted scopes,
        grant, client authentication, extra parameters and the username *reference*
        (a username given as a value enters as a SHA-256 digest, so two users of one
        client do not share a token). Never derived from another secret; the same in
        every process.
        """
        username: str | None
        if isinstance(self.username, Secret):
            username = "value-sha256:" + hashlib.sha256(self.username.reveal().encode()).hexdigest()
        else:
            username = self.username
        identity = {
            "v": 1,
            "dialect": self.dialect.name,
            "token_url": self.effective_token_url,
            "client_id": self.client_id,
            "audience": self.effective_audience,
            "tenant": self.tenant,
            "scopes": sorted(self.scopes),
            "grant": self.dialect.grant_type,
            "client_auth": self.effective_client_auth,
            "extra": [list(p) for p in self.extra_params],
            "username": username,
        }
        digest = hashlib.sha256(
            json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:32]
        return f"vendorgate:token:{self.dialect.name}:{digest}"

    def __repr__(self) -> str:
        from vendorgate.secrets._ref import parse_secret_ref

        shown = [f"dialect={self.dialect.name!r}"]
        defaults = {f.name: f.default for f in fields(self)}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "dialect" or value == defaults[f.name] or value in (None, ()):
                continue
            if isinstance(value, Secret):
                pass  # repr(Secret) is a mask
            elif f.name in _SECRET_REF_FIELDS:
                value = str(parse_secret_ref(value, field=f.name))  # masks literal values
            shown.append(f"{f.name}={value!r}")
        return f"TokenConfig({', '.join(shown)})"

    def secret_references(self) -> dict[str, str]:
        """The configured secret references by field name (for ``vendorgate doctor``).

        Fields given as secret values are not references and are left out (see
        :meth:`secret_values`).
        """
        return {n: v for n in _SECRET_REF_FIELDS if isinstance(v := getattr(self, n), str)}

    def secret_values(self) -> tuple[str, ...]:
        """Names of the secret fields given as values rather than references."""
        return tuple(n for n in _SECRET_REF_FIELDS if isinstance(getattr(self, n), Secret))

    def with_overrides(self, **changes: Any) -> TokenConfig:
        """Return a copy with some fields changed (validated again)."""
        return replace(self, **changes)

    # -- mapping form ------------------------------------------------------------------

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON values and secret references only; inverse of :meth:`from_mapping`.

        The dialect is written as ``preset`` when it is an unmodified registered preset,
        else in full under ``dialect``.

        Raises:
            ConfigurationError: a secret field holds a value (a :class:`Secret`), which is
                never written out; the error names the field. Give a reference instead
                (``env:``, ``file:``, ``vault:`` or a registered scheme).
        """
        from vendorgate.dialects._registry import get_dialect

        if values := self.secret_values():
            raise ConfigurationError(
                "holds a secret value, which to_mapping() never writes out; give a "
                "reference instead (vault:, env:, file: or a registered scheme such as "
                "airflow-conn:), or keep this config in memory",
                field=values[0],
            )

        out: dict[str, Any] = {}
        try:
            registered = get_dialect(self.dialect.name)
        except ConfigurationError:
            registered = None
        if registered == self.dialect:
            out["preset"] = self.dialect.name
        else:
            out["dialect"] = self.dialect.to_mapping()
        defaults = {f.name: f.default for f in fields(self)}
        for f in fields(self):
            if f.name == "dialect":
                continue
            value = getattr(self, f.name)
            if f.name == "scopes":
                value = list(value)
            elif f.name == "extra_params":
                value = dict(value)
            elif f.name == "vault":
                value = value.to_mapping() if value is not None else None
            if value == defaults[f.name] or value in (None, [], {}):
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], **overrides: Any) -> TokenConfig:
        """Build a config from plain values (a dict, TOML, Airflow connection extras).

        Keys: ``preset`` (a registered name) and/or ``dialect`` (a dialect table, whose
        ``base`` defaults to ``preset``), plus any :class:`TokenConfig` field. ``scopes``
        may be a list or a space-separated string; ``vault`` a table of
        :class:`~vendorgate.secrets.VaultSettings` fields.

        Raises:
            UnknownPresetError: the preset is not registered (lists the valid ones).
            ConfigurationError: an unknown key or invalid value (names the key).
        """
        from vendorgate.dialects._registry import get_dialect

        if not isinstance(data, Mapping):
            raise ConfigurationError("token configuration must be a table/object", field="config")
        values = {**dict(data), **overrides}
        preset = values.pop("preset", None)
        dialect_spec = values.pop("dialect", None)
        if isinstance(dialect_spec, Dialect):
            dialect = dialect_spec
        elif isinstance(dialect_spec, str):
            dialect = get_dialect(dialect_spec)
        elif isinstance(dialect_spec, Mapping):
            spec = dict(dialect_spec)
            if preset is not None and "base" not in spec:
                spec["base"] = preset
            dialect = Dialect.from_mapping(spec)
        elif dialect_spec is None:
            if preset is None:
                raise ConfigurationError(
                    "name a preset (see 'vendorgate presets') or give a 'dialect' table",
                    field="preset",
                )
            dialect = get_dialect(preset)
        else:
            raise ConfigurationError("must be a preset name or a dialect table", field="dialect")
        known = {f.name for f in fields(cls)} - {"dialect"}
        for key in values:
            if key not in known:
                raise ConfigurationError(
                    f"unknown token setting {key!r}; valid settings: preset, dialect, "
                    f"{', '.join(sorted(known))}",
                    field=str(key),
                )
        from vendorgate._mapping import check_field_types

        check_field_types(cls, values, skip=("scopes", *_SECRET_REF_FIELDS))
        if (
            "scopes" in values
            and isinstance(values["scopes"], Iterable)
            and not isinstance(values["scopes"], str)
        ):
            values["scopes"] = tuple(values["scopes"])
        return cls(dialect=dialect, **values)

    @classmethod
    def from_toml(cls, text: str, *, table: str | None = None) -> TokenConfig:
        """Build a config from TOML text (optionally from one ``[table]`` of it).

        Example::

            preset = "lonewolf"
            client_id = "my-client"
            client_secret = "vault:secret/lonewolf#client_secret"
            extra_params = { lwt_client_id = "customer-42" }
        """
        try:
            import tomllib  # type: ignore[import-not-found,unused-ignore]
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"not valid TOML: {exc}", field="config") from None
        if table is not None:
            if not isinstance(data.get(table), dict):
                raise ConfigurationError(f"no [{table}] table in the TOML", field=table)
            data = data[table]
        return cls.from_mapping(data)
