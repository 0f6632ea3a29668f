"""Airflow ``Connection`` -> vendorgate connection spec: the only code reading its fields.

The hook, the operators, the trigger, the sensor and the Variable cache all go through
:func:`connection_mapping` / :func:`vendor_connection`. A trigger serialises the
connection *id* and rebuilds the spec in the triggerer; the spec's secrets never leave
the process that read them.

Where each piece comes from::

    login                 -> token.client_id                     ("Client ID")
    password              -> token.client_secret (a value)       ("Client secret")
    extra.client_secret_ref -> token.client_secret (a reference; instead of password)
    host (+ schema, port) -> base_url                            ("API base URL")
    extra.preset, auth_url, audience, tenant, scopes, client_auth, private_key_ref,
      transit_key, signing_alg, password_grant_username/_password, extra_params
                          -> token.*
    extra.vault_*         -> token.vault (else the workers' VAULT_* variables)
    extra.cache, cache_lock, cache_dir, cache_url -> cache (store + lock)
    extra.timeout_s       -> timeout_s
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError
from vendorgate.airflow._fields import CACHE_LOCKS, CACHE_STORES, EXTRA_FIELDS

if TYPE_CHECKING:
    from vendorgate.airflow._spec import ConnectionSpec

__all__ = ["connection_mapping", "read_extra", "register_adapters", "vendor_connection"]

_PREFIX = "extra__vendorgate__"
_KNOWN = {f.name for f in EXTRA_FIELDS}
# TokenConfig field -> where the user sets it on the connection (for error messages).
_FIELD_NAMES = {
    "client_id": "login (Client ID)",
    "client_secret": "password (Client secret) or extra.client_secret_ref",
    "token_url": "extra.auth_url (Token URL)",
    "private_key": "extra.private_key_ref",
    "username": "extra.password_grant_username",
    "password": "extra.password_grant_password",
    "config": "extra",
}


def _where(field: str | None) -> str:
    if field is None:
        return "extra"
    field = field.removeprefix("token.")
    if field in _FIELD_NAMES:
        return _FIELD_NAMES[field]
    if field.startswith("vault."):
        return "extra.vault_" + field.split(".", 1)[1].replace("url", "addr")
    return f"extra.{field}"


def read_extra(extra: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The connection's extra as a dict of set values (empty strings and nulls dropped).

    Raises:
        ConfigurationError: not a JSON object, or an unknown key (names it).
    """
    if extra is None or extra == "":
        return {}
    if isinstance(extra, str):
        try:
            data = json.loads(extra)
        except ValueError as exc:
            # never echo the text: it may hold a secret
            raise ConfigurationError(
                f"is not valid JSON (line {getattr(exc, 'lineno', '?')}, column "
                f"{getattr(exc, 'colno', '?')}); fix the connection's Extra field",
                field="extra",
            ) from None
    else:
        data = dict(extra)
    if not isinstance(data, dict):
        raise ConfigurationError("must be a JSON object", field="extra")
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.removeprefix(_PREFIX) if isinstance(key, str) else key
        if value is None or value == "":
            continue
        if name not in _KNOWN:
            raise ConfigurationError(
                f"unknown key {name!r}; the vendorgate connection type accepts "
                f"{', '.join(sorted(_KNOWN))}",
                field="extra",
            )
        out[name] = value
    return out


def _base_url(host: str | None, schema: str | None, port: int | None) -> str | None:
    if not host:
        return None
    if "://" in host:
        return host
    scheme = schema if schema in ("http", "https") else "https"
    return f"{scheme}://{host}{f':{port}' if port else ''}"


def _json_object(value: Any, field: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    raise ConfigurationError('must be a JSON object such as {"name": "value"}', field=field)


def _cache_options(extra: Mapping[str, Any]) -> dict[str, Any]:
    store = extra.get("cache", "airflow-variable")
    lock = extra.get("cache_lock", "file" if store in ("airflow-variable", "file") else None)
    if store not in CACHE_STORES:
        raise ConfigurationError(f"must be one of {', '.join(CACHE_STORES)}", field="extra.cache")
    if lock is not None and lock not in CACHE_LOCKS:
        raise ConfigurationError(
            f"must be one of {', '.join(CACHE_LOCKS)}", field="extra.cache_lock"
        )
    directory = extra.get("cache_dir") or os.path.join(
        os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"), "vendorgate-cache"
    )

    def backend(name: str) -> dict[str, Any]:
        if name == "file":
            return {"backend": "file", "directory": str(directory)}
        if name == "redis":
            if not extra.get("cache_url"):
                raise ConfigurationError(
                    "is required for the redis cache or lock: a redis://host:port/db URL",
                    field="extra.cache_url",
                )
            return {"backend": "redis", "url": _redis_url(extra)}
        return {"backend": name}

    if store == "memory":
        return {"backend": "memory"}
    if lock is None or lock == store:
        return backend(store) if lock == store else {"store": backend(store)}
    if lock == "none":
        return {"store": backend(store)}
    return {"store": backend(store), "lock": backend(lock)}


def _redis_url(extra: Mapping[str, Any]) -> str:
    """``cache_url`` with ``cache_password`` joined in (the URL itself is not masked)."""
    from urllib.parse import urlsplit, urlunsplit

    url = str(extra["cache_url"])
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        raise ConfigurationError(
            "is not a URL; give redis://host:port/db", field="extra.cache_url"
        ) from None
    if has_password:
        raise ConfigurationError(
            "holds a password, which Airflow would show in the UI and the API (this key is "
            "not masked); give the URL without it and the password in cache_password",
            field="extra.cache_url",
        )
    password = extra.get("cache_password")
    if not password:
        return url
    from urllib.parse import quote

    user = quote(parts.username, safe="") if parts.username else ""
    netloc = f"{user}:{quote(str(password), safe='')}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def _secret_value(value: str) -> Any:
    """A secret value the connection holds, as the token config accepts it."""
    from vendorgate._secret import Secret

    return Secret(value)


def connection_mapping(
    conn: Any, *, conn_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Translate an Airflow connection into the spec mapping and the secret values.

    Returns:
        ``(mapping, secrets)``: the plain mapping of the connection spec (secret
        *references* only) and the secret values the connection itself holds, by token
        field (``client_secret`` from the password; Vault login secrets under
        ``vault.*``). Keeping values apart lets the mapping be logged or compared.

    Raises:
        ConfigurationError: a missing or invalid field; the error names the
            connection field (``login``, ``extra.preset``, ...) and what to do.
    """
    extra = read_extra(getattr(conn, "extra", None))
    secrets: dict[str, Any] = {}
    login = (getattr(conn, "login", None) or "").strip()
    if not login:
        raise ConfigurationError(
            "is required: put the client id the vendor gave you in the connection's "
            "Client ID (login) field",
            field="login",
        )
    if not extra.get("preset"):
        raise ConfigurationError(
            "is required: choose the vendor preset (see 'vendorgate presets')",
            field="extra.preset",
        )
    token: dict[str, Any] = {"preset": extra["preset"], "client_id": login}
    password = getattr(conn, "password", None)
    if password and extra.get("client_secret_ref"):
        raise ConfigurationError(
            "give the client secret either in the password field or as "
            "extra.client_secret_ref, not both",
            field="extra.client_secret_ref",
        )
    if extra.get("client_secret_ref"):
        token["client_secret"] = extra["client_secret_ref"]
    elif password:
        secrets["client_secret"] = password
    for key, target in (
        ("auth_url", "token_url"),
        ("audience", "audience"),
        ("tenant", "tenant"),
        ("client_auth", "client_auth"),
        ("private_key_ref", "private_key"),
        ("transit_key", "transit_key"),
        ("signing_alg", "signing_alg"),
        ("password_grant_username", "username"),
        ("password_grant_password", "password"),
    ):
        if key in extra:
            token[target] = extra[key]
    if "scopes" in extra:
        scopes = extra["scopes"]
        token["scopes"] = scopes.split() if isinstance(scopes, str) else list(scopes)
    if "extra_params" in extra:
        token["extra_params"] = _json_object(extra["extra_params"], "extra.extra_params")
    vault_keys = [k for k in extra if k.startswith("vault_")]
    if vault_keys:
        vault: dict[str, Any] = {
            "url": extra.get("vault_addr") or os.environ.get("VAULT_ADDR"),
            "auth_method": extra.get("vault_auth_method", "token"),
        }
        for key in ("role_id", "role", "namespace"):
            if f"vault_{key}" in extra:
                vault[key] = extra[f"vault_{key}"]
        for key in ("secret_id", "token"):
            if f"vault_{key}" in extra:
                secrets[f"vault.{key}"] = extra[f"vault_{key}"]
        if vault["auth_method"] == "token" and "vault.token" not in secrets:
            vault["token_ref"] = "env:VAULT_TOKEN"
        if vault["auth_method"] == "approle" and "vault.secret_id" not in secrets:
            vault["secret_id_ref"] = "env:VAULT_SECRET_ID"
        token["vault"] = vault
    mapping: dict[str, Any] = {
        "token": token,
        "base_url": _base_url(
            getattr(conn, "host", None), getattr(conn, "schema", None), getattr(conn, "port", None)
        ),
        "cache": _cache_options(extra),
    }
    if "timeout_s" in extra:
        try:
            mapping["timeout_s"] = float(extra["timeout_s"])
        except (TypeError, ValueError):
            raise ConfigurationError(
                "must be a number of seconds", field="extra.timeout_s"
            ) from None
    if conn_id is not None:
        mapping["conn_id"] = conn_id
    return mapping, secrets


def register_adapters() -> None:
    """Register the ``airflow-conn`` secret scheme and the ``airflow-variable`` token store.

    Both are registered as ``"module:attr"`` strings (nothing is imported until used);
    calling this again does nothing.
    """
    global _registered
    if not _registered:
        from vendorgate.cache import register_store
        from vendorgate.secrets import register_secret_scheme

        register_secret_scheme(
            "airflow-conn",
            "vendorgate.airflow._secret_scheme:resolve_airflow_conn",
            form="airflow-conn:<conn id>#<field>",
        )
        register_store("airflow-variable", "vendorgate.airflow.cache:AirflowVariableStore")
        _registered = True


_registered = False


def vendor_connection(conn: Any, *, conn_id: str | None = None) -> ConnectionSpec:
    """Build the connection spec of an Airflow connection (secrets masked on the way).

    Raises:
        ConfigurationError: what :func:`connection_mapping` raises, or an invalid value
            caught by the core (re-raised naming the connection field).
    """
    from vendorgate.airflow._masking import mask
    from vendorgate.airflow._spec import ConnectionSpec

    register_adapters()
    conn_id = conn_id or getattr(conn, "conn_id", None)
    mapping, secrets = connection_mapping(conn, conn_id=conn_id)
    for name, value in secrets.items():
        mask(value, name.replace("vault.", "vault_"))
    values = {name: _secret_value(value) for name, value in secrets.items()}
    try:
        return ConnectionSpec.from_parts(mapping, values)
    except ConfigurationError as exc:
        if exc.field is None or exc.field.startswith(("extra", "login")):
            raise
        message = str(exc).removeprefix(f"{exc.field}: ")
        where = f" (connection {conn_id!r})" if conn_id else ""
        raise ConfigurationError(f"{message}{where}", field=_where(exc.field)) from None
