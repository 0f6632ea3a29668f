"""``vendorgate jwk``: the public key to hand to a vendor, as PEM and as a JWKS with its kid.

For private_key_jwt, a vendor asks for the client's public key ("provide us the public
key"). This prints it from a PEM secret reference (private or public key) or from a
Vault Transit key (the private key never leaves Vault), with the ``kid`` assertions
will carry: the RFC 7638 thumbprint unless ``--kid`` names another. Nothing secret is
printed.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

__all__ = ["add_parser"]


def _pem_public_key(ref: str, args: argparse.Namespace) -> str:
    """The public key PEM of a PEM reference holding a private or a public key."""
    from vendorgate.cli._token import vault_from_args
    from vendorgate.secrets import SecretResolver, default_resolver
    from vendorgate.signing import PemSigner

    vault = vault_from_args(args, needed=ref.strip().startswith("vault:"))
    resolver = SecretResolver(vault) if vault is not None else default_resolver()
    secret = resolver.resolve(ref, field="private_key")
    if "PUBLIC KEY-----" in secret.reveal():
        return secret.reveal().strip() + "\n"
    return PemSigner(secret, alg=args.alg).public_key_pem()


def _transit(args: argparse.Namespace) -> tuple[str, str]:
    """(public key PEM, kid) of the latest version of a Transit key."""
    from vendorgate.cli._token import vault_from_args
    from vendorgate.secrets import VaultSession
    from vendorgate.signing import TransitSigner

    vault = vault_from_args(args, needed=True)
    assert vault is not None
    signer = TransitSigner(VaultSession(vault), args.transit_key, alg=args.alg, kid=args.kid)
    kid = signer.kid
    assert kid is not None
    return signer.public_key_pem(), kid


def _run(args: argparse.Namespace) -> int:
    from vendorgate.signing import KID_THUMBPRINT, public_jwks
    from vendorgate.signing._pem import check_alg

    check_alg(args.alg)
    kid: str | None
    if args.transit_key:
        pem, kid = _transit(args)
    else:
        pem = _pem_public_key(args.private_key, args)
        kid = None if args.kid in (None, KID_THUMBPRINT) else args.kid
    jwks: dict[str, Any] = public_jwks(pem, alg=args.alg, kid=kid)
    kid = str(jwks["keys"][0]["kid"])
    if args.format == "pem":
        sys.stdout.write(pem if pem.endswith("\n") else pem + "\n")
    elif args.format == "jwks":
        sys.stdout.write(json.dumps(jwks, indent=2) + "\n")
    else:
        sys.stdout.write(f"# kid: {kid}\n")
        sys.stdout.write(pem if pem.endswith("\n") else pem + "\n")
        sys.stdout.write(json.dumps(jwks, indent=2) + "\n")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``vendorgate jwk``."""
    parser = subparsers.add_parser(
        "jwk",
        help="print the public key of a PEM reference or a Transit key, as PEM and JWKS",
        description=(
            "Print the public key to register with a vendor for private_key_jwt: as PEM and "
            "as a JWKS whose kid is the one assertions carry (the RFC 7638 thumbprint "
            "unless --kid names another)."
        ),
        allow_abbrev=False,
    )
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument(
        "--private-key",
        metavar="REF",
        help="secret reference to a PEM private (or public) key, e.g. file:/run/keys/tw.pem",
    )
    key.add_argument(
        "--transit-key", metavar="MOUNT/NAME", help="Vault Transit key, e.g. transit/techwolf"
    )
    parser.add_argument(
        "--alg", default="RS256", help="signing algorithm: RS256 (default), PS256 or ES256"
    )
    parser.add_argument(
        "--kid",
        help="kid to publish (default: the RFC 7638 thumbprint; must match the signer's kid)",
    )
    parser.add_argument(
        "--format",
        choices=("both", "pem", "jwks"),
        default="both",
        help="what to print (default: both, with a '# kid:' line first)",
    )
    v = parser.add_argument_group("Vault (default: the VAULT_* environment variables)")
    v.add_argument("--vault-addr", help="Vault address (VAULT_ADDR)")
    v.add_argument("--vault-token", metavar="REF", help="reference to a Vault token (token auth)")
    v.add_argument("--vault-role-id", help="AppRole role id")
    v.add_argument("--vault-secret-id", metavar="REF", help="reference to the AppRole secret id")
    parser.set_defaults(func=_run)
