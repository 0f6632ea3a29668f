"""How to reach and log in to Vault (or OpenBao): frozen, validated once, rebuildable."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Final, Literal

from vendorgate import _validate as check
from vendorgate._errors import ConfigurationError
from vendorgate._secret import Secret

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["AUTH_METHODS", "VaultSettings"]

AuthMethod = Literal["token", "approle", "kubernetes", "jwt"]

#: The supported auth methods and their default mount points.
AUTH_METHODS: Final[dict[str, str]] = {
    "token": "token",
    "approle": "approle",
    "kubernetes": "kubernetes",
    "jwt": "jwt",
}

#: Where Kubernetes mounts the service account token in a pod.
KUBERNETES_JWT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount/token"

_TRUE: Final = {"1", "true", "yes", "on"}
_FALSE: Final = {"0", "false", "no", "off", ""}
# Secret fields: (value attribute, reference attribute).
_SECRET_FIELDS: Final = (("token", "token_ref"), ("secret_id", "secret_id_ref"), ("jwt", "jwt_ref"))


@dataclass(frozen=True, eq=False)
class VaultSettings:
    """Address, TLS and login settings for one Vault identity.

    Secret fields hold either a :class:`~vendorgate.Secret` value or a secret *reference*
    (``env:``, ``file:``, ``literal:``) in the matching ``*_ref`` field; a reference is read
    at each login, so a rotated file (a Kubernetes service account token) is picked up.
    Only references survive :meth:`to_mapping`.

    Attributes:
        url: Vault address, e.g. ``https://vault.example.com:8200``.
        auth_method: ``"token"``, ``"approle"``, ``"kubernetes"`` or ``"jwt"`` (JWT/OIDC).
        token: Token auth: the Vault token.
        token_ref: Token auth: a reference to the token (e.g. ``env:VAULT_TOKEN``).
        role_id: AppRole: the role id (an identifier, not a secret).
        secret_id: AppRole: the secret id.
        secret_id_ref: AppRole: a reference to the secret id.
        role: Kubernetes / JWT: the Vault role to log in as.
        jwt: JWT auth: the JWT to present.
        jwt_ref: Kubernetes / JWT: a reference to the JWT (Kubernetes default:
            ``file:/var/run/secrets/kubernetes.io/serviceaccount/token``).
        mount_point: Where the auth method is mounted (default: the method's name).
        namespace: Vault Enterprise / OpenBao namespace.
        verify: ``True``/``False`` or a CA bundle file or directory path.
        client_cert: Path to a client TLS certificate (mTLS).
        client_key: Path to the client certificate's key.
        timeout_s: Timeout of each Vault request, in seconds.
        allow_insecure_http: Allow a plain ``http://`` address of a host other than
            loopback (the Vault token would travel unencrypted; also allowed
            process-wide by ``VENDORGATE_ALLOW_INSECURE_HTTP=1``).

    Pickling: a pickled ``VaultSettings`` (multiprocessing, a Celery or Dask task) carries
    secret *values* given as ``token`` / ``secret_id`` / ``jwt`` in clear inside the
    pickle, because :class:`~vendorgate.Secret` pickles its value. References
    (``token_ref``, ``secret_id_ref``, ``jwt_ref``) carry only the reference. To send a
    config to another process without secrets, send :meth:`to_mapping` (JSON, references
    only) or give secrets as references.
    """

    url: str
    auth_method: AuthMethod = "token"
    token: Secret | None = None
    token_ref: str | None = None
    role_id: str | None = None
    secret_id: Secret | None = None
    secret_id_ref: str | None = None
    role: str | None = None
    jwt: Secret | None = None
    jwt_ref: str | None = None
    mount_point: str | None = None
    namespace: str | None = None
    verify: bool | str = True
    client_cert: str | None = None
    client_key: str | None = None
    timeout_s: float = 30.0
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        from vendorgate._url import check_transport, check_verify, is_http_url
        from vendorgate.secrets._ref import parse_secret_ref

        if not is_http_url(self.url):
            raise ConfigurationError(
                "must be an http:// or https:// address such as https://vault.example.com:8200"
                " (or set VAULT_ADDR)",
                field="vault.url",
            )
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if not isinstance(self.allow_insecure_http, bool):
            raise ConfigurationError("must be true or false", field="vault.allow_insecure_http")
        check_transport(self.url, field="vault.url", allow_insecure_http=self.allow_insecure_http)
        check_verify(self.verify, field="vault.verify")
        if self.auth_method not in AUTH_METHODS:
            raise ConfigurationError(
                f"unknown auth method; use one of {', '.join(AUTH_METHODS)}",
                field="vault.auth_method",
            )
        for value_name, ref_name in _SECRET_FIELDS:
            value = getattr(self, value_name)
            if value is not None and not isinstance(value, Secret):
                object.__setattr__(self, value_name, Secret(value))
            ref = getattr(self, ref_name)
            if ref is not None:
                parsed = parse_secret_ref(ref, field=f"vault.{ref_name}")
                if parsed.scheme == "vault":
                    raise ConfigurationError(
                        "a Vault login secret cannot come from Vault itself; use env: or file:",
                        field=f"vault.{ref_name}",
                    )
        method = self.auth_method
        if method == "token" and self.token is None and self.token_ref is None:
            self._missing("token", "set VAULT_TOKEN or give token / token_ref")
        if method == "approle":
            if not self.role_id:
                self._missing("role_id", "set VAULT_ROLE_ID or give role_id")
            if self.secret_id is None and self.secret_id_ref is None:
                self._missing("secret_id", "set VAULT_SECRET_ID or give secret_id / secret_id_ref")
        if method in ("kubernetes", "jwt") and not self.role:
            self._missing("role", "set VAULT_ROLE or give the Vault role to log in as")
        if method == "jwt" and self.jwt is None and self.jwt_ref is None:
            self._missing("jwt", "set VAULT_JWT / VAULT_JWT_FILE or give jwt / jwt_ref")
        if method == "kubernetes" and self.jwt is None and self.jwt_ref is None:
            object.__setattr__(self, "jwt_ref", f"file:{KUBERNETES_JWT_PATH}")
        check.seconds(self.timeout_s, "vault.timeout_s")
        if (self.client_cert is None) != (self.client_key is None):
            raise ConfigurationError(
                "client_cert and client_key go together; give both or neither",
                field="vault.client_cert",
            )

    def _missing(self, name: str, what: str) -> None:
        raise ConfigurationError(
            f"required for auth method {self.auth_method!r}; {what}", field=f"vault.{name}"
        )

    @property
    def effective_mount_point(self) -> str:
        """The auth mount point actually used (the method's name unless overridden)."""
        return self.mount_point or AUTH_METHODS[self.auth_method]

    # -- identity ---------------------------------------------------------------------

    def identity(self) -> tuple[object, ...]:
        """A hashable identity: every field, with secret values replaced by digests."""
        parts: list[object] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = "sha256:" + hashlib.sha256(value.reveal().encode()).hexdigest()
            parts.append((f.name, value))
        return tuple(parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VaultSettings):
            return NotImplemented
        return self.identity() == other.identity()

    def __hash__(self) -> int:
        return hash(self.identity())

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name in ("verify",) and value is True):
                continue
            if f.name == "allow_insecure_http" and value is False:
                continue
            shown.append(f"{f.name}={value!r}")
        return f"VaultSettings({', '.join(shown)})"

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> VaultSettings:
        """Build settings from the standard ``VAULT_*`` variables, then apply ``overrides``.

        Variables read: ``VAULT_ADDR``; ``VAULT_AUTH_METHOD`` (default ``approle`` when
        ``VAULT_ROLE_ID`` is set, else ``token``); ``VAULT_TOKEN``; ``VAULT_ROLE_ID``,
        ``VAULT_SECRET_ID``; ``VAULT_ROLE``, ``VAULT_JWT``, ``VAULT_JWT_FILE``;
        ``VAULT_AUTH_MOUNT``; ``VAULT_NAMESPACE``; ``VAULT_CACERT``, ``VAULT_CAPATH``,
        ``VAULT_SKIP_VERIFY``; ``VAULT_CLIENT_CERT``, ``VAULT_CLIENT_KEY``;
        ``VAULT_CLIENT_TIMEOUT`` (seconds). Secrets are kept as ``env:`` references.

        Args:
            environ: The environment to read (default: ``os.environ``).
            **overrides: Field values that win over the environment.

        Raises:
            ConfigurationError: A field is missing or invalid; the message names it.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value else None

        kwargs: dict[str, Any] = {}
        if addr := get("VAULT_ADDR"):
            kwargs["url"] = addr
        method = get("VAULT_AUTH_METHOD")
        if method is None:
            method = "approle" if get("VAULT_ROLE_ID") else "token"
        if method == "oidc":
            method = "jwt"
        kwargs["auth_method"] = method
        if get("VAULT_TOKEN") and method == "token":
            kwargs["token_ref"] = "env:VAULT_TOKEN"
        if role_id := get("VAULT_ROLE_ID"):
            kwargs["role_id"] = role_id
        if get("VAULT_SECRET_ID"):
            kwargs["secret_id_ref"] = "env:VAULT_SECRET_ID"
        if role := get("VAULT_ROLE"):
            kwargs["role"] = role
        if jwt_file := get("VAULT_JWT_FILE"):
            kwargs["jwt_ref"] = f"file:{jwt_file}"
        elif get("VAULT_JWT"):
            kwargs["jwt_ref"] = "env:VAULT_JWT"
        if mount := get("VAULT_AUTH_MOUNT"):
            kwargs["mount_point"] = mount
        if ns := get("VAULT_NAMESPACE"):
            kwargs["namespace"] = ns
        skip = (get("VAULT_SKIP_VERIFY") or "").strip().lower()
        if skip and skip not in _TRUE | _FALSE:
            raise ConfigurationError("must be true or false", field="VAULT_SKIP_VERIFY")
        if skip in _TRUE:
            kwargs["verify"] = False
        elif ca := get("VAULT_CACERT") or get("VAULT_CAPATH"):
            kwargs["verify"] = ca
        if cert := get("VAULT_CLIENT_CERT"):
            kwargs["client_cert"] = cert
        if key := get("VAULT_CLIENT_KEY"):
            kwargs["client_key"] = key
        if timeout := get("VAULT_CLIENT_TIMEOUT"):
            try:
                kwargs["timeout_s"] = float(timeout.rstrip("s"))
            except ValueError:
                raise ConfigurationError(
                    "must be a number of seconds", field="VAULT_CLIENT_TIMEOUT"
                ) from None
        kwargs.update(overrides)
        if "url" not in kwargs:
            raise ConfigurationError(
                "no Vault address; set VAULT_ADDR or pass url=", field="vault.url"
            )
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> VaultSettings:
        """Return a copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_mapping(self) -> dict[str, Any]:
        """Plain, JSON-serialisable fields; secrets only as references.

        Raises:
            ConfigurationError: A secret was given as a value, which cannot be serialised
                without leaking it; give it as a reference (``env:``/``file:``) instead.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                ref_name = f"{f.name}_ref"
                if getattr(self, ref_name) is None:
                    raise ConfigurationError(
                        "a secret value cannot be serialised; give it as a reference "
                        f"({ref_name}='env:...' or 'file:...') instead",
                        field=f"vault.{f.name}",
                    )
                continue
            if f.name == "allow_insecure_http" and value is False:
                continue
            if value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> VaultSettings:
        """Rebuild settings from :meth:`to_mapping` output (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown Vault setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                field="vault",
            )
        return cls(**dict(data))
