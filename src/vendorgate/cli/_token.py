"""``vendorgate token``: fetch one access token and describe it (the token only on request).

Also home of the flags shared with ``vendorgate doctor`` (:func:`add_token_arguments`,
:func:`spec_from_args`): flags, or a TOML profile (``--config FILE --profile NAME``)
holding a :class:`~vendorgate.VendorConnection` mapping, with flags overriding the file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from vendorgate.cli._flags import FLAGS, set_by_flag

if TYPE_CHECKING:
    import argparse

    from vendorgate.connection import VendorConnection
    from vendorgate.secrets import VaultSettings
    from vendorgate.tokens import Token

__all__ = [
    "add_parser",
    "add_token_arguments",
    "load_profile",
    "spec_from_args",
    "vault_from_args",
]


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse type)."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return value


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the profile, token request and Vault flags on ``parser``."""
    c = parser.add_argument_group("profile (flags below override it)")
    c.add_argument(
        "--config",
        metavar="FILE.toml",
        help="TOML file with one table per profile, each a connection spec (docs/connection.md)",
    )
    c.add_argument("--profile", metavar="NAME", help="profile (table) of --config to use")
    g = parser.add_argument_group("token request")
    g.add_argument("--preset", help="vendor preset (see 'vendorgate presets')")
    g.add_argument("--token-url", help="token endpoint (default: the preset's)")
    g.add_argument("--client-id", help="client id")
    g.add_argument("--client-secret", metavar="REF", help="secret reference to the client secret")
    key = g.add_mutually_exclusive_group()
    key.add_argument("--private-key", metavar="REF", help="secret reference to a PEM private key")
    key.add_argument(
        "--transit-key", metavar="MOUNT/NAME", help="Vault Transit key signing client assertions"
    )
    g.add_argument("--signing-alg", help="client assertion algorithm (default RS256)")
    g.add_argument("--kid", dest="signing_kid", help="client assertion 'kid' header")
    g.add_argument("--username", metavar="REF", help="secret reference to the username")
    g.add_argument("--password", metavar="REF", help="secret reference to the password")
    g.add_argument("--audience", help="audience (default: the preset's)")
    g.add_argument("--tenant", help="tenant (required by techwolf-eu, techwolf-us)")
    g.add_argument("--scope", action="append", default=[], metavar="S", help="scope (repeatable)")
    g.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra request field, e.g. lwt_client_id=42 (repeatable)",
    )
    g.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="token request timeout in seconds (default 30)",
    )
    v = parser.add_argument_group("Vault (default: the VAULT_* environment variables)")
    v.add_argument("--vault-addr", help="Vault address (VAULT_ADDR)")
    v.add_argument("--vault-token", metavar="REF", help="reference to a Vault token (token auth)")
    v.add_argument("--vault-role-id", help="AppRole role id")
    v.add_argument("--vault-secret-id", metavar="REF", help="reference to the AppRole secret id")


def _vault_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from vendorgate._errors import ConfigurationError

    overrides: dict[str, Any] = {}
    if args.vault_addr:
        overrides["url"] = args.vault_addr
    if args.vault_token:
        overrides.update(auth_method="token", token_ref=args.vault_token)
    if args.vault_role_id or args.vault_secret_id:
        if not (args.vault_role_id and args.vault_secret_id):
            raise ConfigurationError(
                "AppRole needs both --vault-role-id and --vault-secret-id", field="vault"
            )
        overrides.update(
            auth_method="approle", role_id=args.vault_role_id, secret_id_ref=args.vault_secret_id
        )
    return overrides


def vault_from_args(args: argparse.Namespace, *, needed: bool) -> VaultSettings | None:
    """Vault settings from the flags and ``VAULT_*``; ``None`` when Vault is not used."""
    from vendorgate._errors import ConfigurationError
    from vendorgate.secrets import VaultSettings

    overrides = _vault_overrides(args)
    if not overrides and not needed:
        return None
    if not overrides and not os.environ.get("VAULT_ADDR"):
        raise ConfigurationError(
            "a vault: reference or --transit-key needs Vault; give --vault-addr or set VAULT_ADDR",
            field="vault",
        )
    return VaultSettings.from_env(**overrides)


def load_profile(path: str, profile: str | None) -> tuple[str | None, dict[str, Any]]:
    """The connection spec mapping of one profile of a TOML file, and the profile's name.

    A file whose top level has a ``token`` table is one spec (no profiles). Otherwise
    each table is a profile: ``profile`` names one; without it, the only table, or the
    one called ``default``.

    Raises:
        ConfigurationError: the file is missing or not TOML, or the profile is unknown
            (lists the profiles).
    """
    import tomllib
    from pathlib import Path

    from vendorgate._errors import ConfigurationError

    file = Path(path).expanduser()
    try:
        data: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {file} ({exc.strerror or type(exc).__name__})", field="--config"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{file} is not valid TOML: {exc}", field="--config") from None
    if "token" in data and profile is None:
        return None, data
    profiles = sorted(k for k, v in data.items() if isinstance(v, dict))
    if profile is None:
        if len(profiles) == 1:
            profile = profiles[0]
        elif "default" in profiles:
            profile = "default"
        else:
            raise ConfigurationError(
                f"{file} has several profiles; choose one with --profile: {', '.join(profiles)}",
                field="--profile",
            )
    if profile not in profiles:
        raise ConfigurationError(
            f"no profile {profile!r} in {file}; profiles: {', '.join(profiles) or 'none'}",
            field="--profile",
        )
    return profile, dict(data[profile])


# argparse dest -> TokenConfig field it overrides (from the one table in _flags.py)
_TOKEN_FLAGS: dict[str, str] = {
    dest: field.split(".", 1)[1]
    for field, _, dest in FLAGS
    if field.count(".") == 1
    and field.startswith("token.")
    and field not in ("token.dialect", "token.scopes", "token.extra_params")
}


def spec_mapping_from_args(args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    """The connection spec mapping the profile and flags describe (flags win)."""
    from vendorgate._errors import ConfigurationError

    profile: str | None = None
    data: dict[str, Any] = {}
    if getattr(args, "config", None):
        profile, data = load_profile(args.config, getattr(args, "profile", None))
    elif getattr(args, "profile", None):
        raise ConfigurationError("--profile needs --config FILE.toml", field="--profile")
    token = data.get("token")
    token = dict(token) if isinstance(token, dict) else {}
    for dest, name in _TOKEN_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            token[name] = value
            if name == "preset":
                token.pop("dialect", None)
    if args.private_key is not None:
        token.pop("transit_key", None)
    if args.transit_key is not None:
        token.pop("private_key", None)
    if args.scope:
        token["scopes"] = list(args.scope)
    if args.param:
        extra = dict(token.get("extra_params") or {})
        for item in args.param:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ConfigurationError("must look like NAME=VALUE", field="--param")
            extra[name] = value
        token["extra_params"] = extra
    if "preset" not in token and "dialect" not in token:
        raise ConfigurationError(
            "is required (with --client-id), or give --config FILE.toml [--profile NAME]",
            field="--preset",
        )
    if "client_id" not in token:
        raise ConfigurationError(
            "is required (or client_id in the profile's token table)", field="--client-id"
        )
    refs = [token.get(n) for n in ("client_secret", "private_key", "username", "password")]
    needs_vault = token.get("transit_key") is not None or any(
        isinstance(r, str) and r.strip().lower().startswith("vault") for r in refs
    )
    if isinstance(token.get("vault"), dict):
        # The profile's Vault table, with the Vault flags on top.
        token["vault"] = {**token["vault"], **_vault_overrides(args)}
    else:
        vault = vault_from_args(args, needed=needs_vault)
        if vault is not None:
            token["vault"] = vault
    data["token"] = token
    api_url = getattr(args, "api_url", None)
    if api_url:
        data["base_url"] = api_url
    return profile, data


def spec_from_args(args: argparse.Namespace) -> VendorConnection:
    """Build the :class:`~vendorgate.VendorConnection` the profile and flags describe.

    Raises:
        ConfigurationError: a bad flag or profile; a field of the file is named under
            its profile (``techwolf.token.client_id``).
    """
    from vendorgate._errors import ConfigurationError
    from vendorgate._mapping import prefixed
    from vendorgate.connection import VendorConnection

    profile, data = spec_mapping_from_args(args)
    try:
        spec = VendorConnection.from_mapping(data)
    except ConfigurationError as exc:
        field = exc.field or ""
        if profile is None or field.startswith("--") or set_by_flag(args, field):
            raise
        raise prefixed(exc, profile) from None
    return spec


def describe(token: Token, *, vendor: str, show_token: bool) -> dict[str, Any]:
    """The JSON object ``vendorgate token --json`` prints."""
    out: dict[str, Any] = {
        "vendor": vendor,
        "token_type": token.token_type,
        "expires_in": max(0, round(token.remaining_s())),
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(token.expires_at)),
        "scope": token.scope,
        "fingerprint": token.fingerprint,
    }
    if show_token:
        out["access_token"] = token.access_token
    return out


def _run(args: argparse.Namespace) -> int:
    from vendorgate._units import format_duration

    spec = spec_from_args(args)
    config = spec.token
    # A fresh token, not one from the shared cache: this command checks the credentials.
    token = spec.provider().fetcher.fetch()
    info = describe(token, vendor=config.vendor, show_token=args.show_token)
    if args.json:
        sys.stdout.write(json.dumps(info) + "\n")
        return 0
    lines = [
        f"vendor:       {info['vendor']}",
        f"token_type:   {info['token_type']}",
        f"scope:        {info['scope'] or '(not stated)'}",
        f"expires_in:   {format_duration(info['expires_in'])}, at {info['expires_at']}",
        f"fingerprint:  {info['fingerprint']}",
    ]
    if args.show_token:
        lines.append(f"access_token: {token.access_token}")
    else:
        lines.append("access_token: (hidden; add --show-token to print it)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``vendorgate token``."""
    parser = subparsers.add_parser(
        "token",
        help="fetch an access token and show its type, scope and expiry",
        description="Fetch one access token in a vendor's dialect. Secrets are given as "
        "references (vault:MOUNT/PATH#KEY, env:VAR, file:PATH, literal:VALUE). Settings come "
        "from flags, or from a profile of a TOML file (--config, --profile) that flags override.",
    )
    add_token_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--show-token", action="store_true", help="also print the access token (a secret)"
    )
    parser.set_defaults(func=_run)
