"""``vendorgate token``: fetch one access token and describe it (the token only on request).

Also home of the flags shared with ``vendorgate doctor`` (:func:`add_token_arguments`,
:func:`config_from_args`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from vendorgate.secrets import VaultSettings
    from vendorgate.tokens import Token, TokenConfig

__all__ = ["add_parser", "add_token_arguments", "config_from_args", "vault_from_args"]


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the token request and Vault flags on ``parser``."""
    g = parser.add_argument_group("token request")
    g.add_argument("--preset", required=True, help="vendor preset (see 'vendorgate presets')")
    g.add_argument("--token-url", help="token endpoint (default: the preset's)")
    g.add_argument("--client-id", required=True, help="client id")
    g.add_argument("--client-secret", metavar="REF", help="secret reference to the client secret")
    key = g.add_mutually_exclusive_group()
    key.add_argument("--private-key", metavar="REF", help="secret reference to a PEM private key")
    key.add_argument(
        "--transit-key", metavar="MOUNT/NAME", help="Vault Transit key signing client assertions"
    )
    g.add_argument("--signing-alg", default="RS256", help="client assertion algorithm")
    g.add_argument("--kid", dest="signing_kid", help="client assertion 'kid' header")
    g.add_argument("--username", metavar="REF", help="secret reference to the username")
    g.add_argument("--password", metavar="REF", help="secret reference to the password")
    g.add_argument("--audience", help="audience (default: the preset's)")
    g.add_argument("--tenant", help="tenant (TechWolf)")
    g.add_argument("--scope", action="append", default=[], metavar="S", help="scope (repeatable)")
    g.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra request field, e.g. lwt_client_id=42 (repeatable)",
    )
    g.add_argument("--timeout", type=float, default=30.0, help="request timeout in seconds")
    v = parser.add_argument_group("Vault (default: the VAULT_* environment variables)")
    v.add_argument("--vault-addr", help="Vault address (VAULT_ADDR)")
    v.add_argument("--vault-token", metavar="REF", help="reference to a Vault token (token auth)")
    v.add_argument("--vault-role-id", help="AppRole role id")
    v.add_argument("--vault-secret-id", metavar="REF", help="reference to the AppRole secret id")


def vault_from_args(args: argparse.Namespace, *, needed: bool) -> VaultSettings | None:
    """Vault settings from the flags and ``VAULT_*``; ``None`` when Vault is not used."""
    from vendorgate._errors import ConfigurationError
    from vendorgate.secrets import VaultSettings

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
    if not overrides and not needed:
        return None
    if not overrides and not os.environ.get("VAULT_ADDR"):
        raise ConfigurationError(
            "a vault: reference or --transit-key needs Vault; give --vault-addr or set VAULT_ADDR",
            field="vault",
        )
    return VaultSettings.from_env(**overrides)


def config_from_args(args: argparse.Namespace) -> TokenConfig:
    """Build the :class:`~vendorgate.tokens.TokenConfig` the flags describe."""
    from vendorgate._errors import ConfigurationError
    from vendorgate.dialects import get_dialect
    from vendorgate.tokens import TokenConfig

    refs = [args.client_secret, args.private_key, args.username, args.password]
    needs_vault = args.transit_key is not None or any(
        r is not None and r.strip().lower().startswith("vault") for r in refs
    )
    extra: dict[str, str] = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigurationError("must look like NAME=VALUE", field="--param")
        extra[name] = value
    return TokenConfig(
        dialect=get_dialect(args.preset),
        client_id=args.client_id,
        token_url=args.token_url,
        client_secret=args.client_secret,
        private_key=args.private_key,
        transit_key=args.transit_key,
        username=args.username,
        password=args.password,
        signing_alg=args.signing_alg,
        signing_kid=args.signing_kid,
        audience=args.audience,
        tenant=args.tenant,
        scopes=tuple(args.scope),
        extra_params=tuple(extra.items()),
        vault=vault_from_args(args, needed=needs_vault),
        timeout_s=args.timeout,
    )


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
    from vendorgate.tokens import TokenFetcher

    config = config_from_args(args)
    token = TokenFetcher(config).fetch()
    info = describe(token, vendor=config.vendor, show_token=args.show_token)
    if args.json:
        sys.stdout.write(json.dumps(info) + "\n")
        return 0
    lines = [
        f"vendor:       {info['vendor']}",
        f"token_type:   {info['token_type']}",
        f"scope:        {info['scope'] or '(not stated)'}",
        f"expires_in:   {info['expires_in']} s (at {info['expires_at']})",
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
        "references (vault:MOUNT/PATH#KEY, env:VAR, file:PATH, literal:VALUE).",
    )
    add_token_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--show-token", action="store_true", help="also print the access token (a secret)"
    )
    parser.set_defaults(func=_run)
