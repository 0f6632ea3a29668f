"""The demo pipeline: every preset against a local OpenBao and the vendor sandbox.

What it does, end to end, with nothing but this package installed:

1. starts a real OpenBao dev server and the vendor sandbox on 127.0.0.1;
2. writes each vendor's demo credentials into OpenBao KV v2, creates a Vault Transit key
   whose public key is registered with the sandbox's TechWolf tenant, and an AppRole with
   a least-privilege policy (read the demo secrets, sign with that one Transit key);
3. logs in with that AppRole (once for the whole run) and, for every preset, fetches a
   token through one shared file-backed token cache, then pulls a few pages of data to a
   JSON Lines file;
4. prints a summary table and stops everything it started.

Run it with ``vendorgate demo`` (or ``python3 scripts/dev.py demo`` from a clone).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from vendorgate._units import format_duration, format_size

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from vendorgate.testing.openbao import OpenBaoServer
    from vendorgate.testing.sandbox import VendorSandbox
    from vendorgate.tokens import TokenConfig

__all__ = ["DemoContext", "DemoRow", "run_demo", "store_preset_secrets"]

_KV_PREFIX = "vendorgate/demo"
_TRANSIT_KEY = "techwolf-demo"
_POLICY = f"""
path "secret/data/{_KV_PREFIX}/*" {{ capabilities = ["read"] }}
path "transit/sign/{_TRANSIT_KEY}" {{ capabilities = ["update"] }}
path "transit/keys/{_TRANSIT_KEY}" {{ capabilities = ["read"] }}
path "sys/internal/ui/mounts/*" {{ capabilities = ["read"] }}
"""


@dataclass(frozen=True)
class DemoContext:
    """What a further demo step gets: the running servers and the demo's Vault login.

    Attributes:
        sandbox: The running vendor sandbox.
        bao: The running OpenBao server (demo secrets under ``secret/<kv_prefix>/``).
        role_id: The demo AppRole's role id.
        secret_id: The demo AppRole's secret id (a secret: pass it on, never print it).
        kv_prefix: Where the demo secrets are in KV v2 (mount ``secret``).
        workdir: A directory for the step's files (removed after the demo).
        out: Where the demo prints (for progress lines).
    """

    sandbox: VendorSandbox
    bao: OpenBaoServer
    role_id: str
    secret_id: str
    kv_prefix: str
    workdir: Path
    out: TextIO


@dataclass(frozen=True)
class DemoRow:
    """One line of the demo summary."""

    preset: str
    auth: str
    lifetime_s: float
    pages: int
    records: int
    token_requests: int
    output_bytes: int = 0


def store_preset_secrets(bao: OpenBaoServer, sandbox: VendorSandbox, kv_prefix: str) -> None:
    """Write every preset's demo secrets (and the demo PEM key) to KV v2 under ``kv_prefix``."""
    client = bao.client()
    cfg = sandbox.config()
    for preset, entry in cfg["presets"].items():
        data = {k: entry[k] for k in ("client_secret", "username", "password") if entry.get(k)}
        if data:
            client.secrets.kv.v2.create_or_update_secret(
                path=f"{kv_prefix}/{preset}", secret=data, mount_point="secret"
            )
    client.secrets.kv.v2.create_or_update_secret(
        path=f"{kv_prefix}/private-keys",
        secret={"demo_jwt_client": cfg["demo_private_key_pem"]},
        mount_point="secret",
    )


def _store_demo_secrets(bao: OpenBaoServer, sandbox: VendorSandbox) -> None:
    store_preset_secrets(bao, sandbox, _KV_PREFIX)
    bao.client().secrets.transit.create_key(
        name=_TRANSIT_KEY, key_type="rsa-2048", mount_point="transit"
    )


def _configs(sandbox: VendorSandbox, vault: Any) -> list[tuple[str, str, TokenConfig]]:
    from vendorgate.dialects import get_dialect, list_dialects
    from vendorgate.tokens import TokenConfig

    rows: list[tuple[str, str, TokenConfig]] = []
    for dialect in list_dialects(include_custom=False):
        preset = dialect.name
        creds = sandbox.config()["presets"][preset]  # keyed by preset name
        ref = f"vault:secret/{_KV_PREFIX}/{preset}"
        common: dict[str, Any] = {
            "dialect": get_dialect(preset),
            "token_url": creds["token_url"],
            "vault": vault,
            "tenant": creds.get("tenant"),
        }
        if preset == "oauth2-private-key-jwt":
            config = TokenConfig(
                client_id=creds["client_id"],
                private_key=f"vault:secret/{_KV_PREFIX}/private-keys#demo_jwt_client",
                **common,
            )
            rows.append((preset, "private_key_jwt (PEM from Vault)", config))
            continue
        extra: dict[str, Any] = {}
        if creds.get("username"):
            extra = {"username": f"{ref}#username", "password": f"{ref}#password"}
        config = TokenConfig(
            client_id=creds["client_id"], client_secret=f"{ref}#client_secret", **common, **extra
        )
        rows.append((preset, "password grant" if extra else "client secret", config))
        if preset == "techwolf-eu":
            transit = TokenConfig(
                client_id="demo-transit-client", transit_key=f"transit/{_TRANSIT_KEY}", **common
            )
            rows.append((preset, "private_key_jwt (Vault Transit)", transit))
    return rows


def run_demo(
    *,
    pages: int = 3,
    page_size: int = 25,
    out: TextIO | None = None,
    workdir: Path | None = None,
    steps: Sequence[Callable[[DemoContext], str]] = (),
) -> list[DemoRow]:
    """Run the demo pipeline and print its summary; return the rows.

    Args:
        pages: Pages to pull per vendor.
        page_size: Records per page.
        out: Where to print (default: standard output).
        workdir: Directory for the token cache and the output files (default: a temp dir).
        steps: More steps run while the servers are up (e.g. the Airflow provider's
            mapped-DAG step); each gets a :class:`DemoContext` and returns a summary
            line, printed after the table.
    """
    from vendorgate.cache import FileBackend, TokenCache
    from vendorgate.connection import VendorConnection
    from vendorgate.http import PageNumber
    from vendorgate.secrets import VaultSession
    from vendorgate.signing import TransitSigner
    from vendorgate.testing.openbao import OpenBaoServer
    from vendorgate.testing.sandbox import VendorSandbox
    from vendorgate.tokens import TokenProvider

    out = out or sys.stdout
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vendorgate-demo-") as tmp:
        work = workdir or Path(tmp)
        with OpenBaoServer() as bao, VendorSandbox(dataset_size=pages * page_size) as sandbox:
            print(f"OpenBao {bao.url} | vendor sandbox {sandbox.url}", file=out)
            _store_demo_secrets(bao, sandbox)
            role_id, secret_id = bao.create_approle("vendorgate-demo", policy_hcl=_POLICY)
            from vendorgate._secret import Secret

            vault = bao.settings(
                auth_method="approle", role_id=role_id, secret_id=Secret(secret_id)
            )
            session = VaultSession.shared(vault)
            signer = TransitSigner(session, f"transit/{_TRANSIT_KEY}")
            sandbox.add_client(
                "techwolf-eu",
                "demo-transit-client",
                public_key_pem=signer.public_key_pem(),
                tenants=["demo-tenant"],
            )
            cache_options = {"backend": "file", "directory": str(work / "token-cache")}
            rows: list[DemoRow] = []
            for preset, auth, config in _configs(sandbox, vault):
                before = sandbox.counters().tokens()
                spec = VendorConnection(
                    config, base_url=sandbox.api_url(preset), cache=cache_options
                )
                provider = spec.provider()
                token = provider.get_token()
                target = work / f"{preset}-{len(rows)}.jsonl"
                with spec.client(source=provider) as client:
                    result = client.pull(
                        "/items",
                        PageNumber(page_size=page_size, records_path="items"),
                        output=target,
                    )
                # A second task of the pipeline (its own memory level, the same shared
                # file cache) gets the same token without asking the vendor again.
                second = TokenProvider(config, cache=TokenCache(FileBackend(work / "token-cache")))
                assert second.get_token().fingerprint == token.fingerprint
                used = sandbox.counters().tokens() - before
                rows.append(
                    DemoRow(
                        preset,
                        auth,
                        token.lifetime_s,
                        result.pages,
                        result.records,
                        used,
                        target.stat().st_size,
                    )
                )
            logins = session.login_count
            context = DemoContext(sandbox, bao, role_id, secret_id, _KV_PREFIX, work, out)
            lines = [step(context) for step in steps]
        _print_table(rows, out)
        for line in lines:
            print(line, file=out)
        print(
            f"Vault logins: {logins} (one AppRole login for the whole run); "
            f"finished in {format_duration(time.monotonic() - started)}; "
            "everything started was stopped.",
            file=out,
        )
    return rows


def _print_table(rows: list[DemoRow], out: TextIO) -> None:
    header = (
        "preset",
        "client authentication",
        "token lifetime",
        "pages",
        "records",
        "output",
        "token requests (2 tasks)",
    )
    lines = [
        (
            r.preset,
            r.auth,
            format_duration(r.lifetime_s),
            str(r.pages),
            str(r.records),
            format_size(r.output_bytes),
            str(r.token_requests),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*header).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for line in lines:
        print(fmt.format(*line).rstrip(), file=out)


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps([r.__dict__ for r in run_demo()], indent=1))
