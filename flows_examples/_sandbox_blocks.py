"""Blocks for the example flows, against a local vendor sandbox and a real OpenBao.

``python <flow file>.py`` uses :func:`run_example`: it starts OpenBao (``bao server
-dev``) and the vendor sandbox on 127.0.0.1, stores the vendor's demo credentials in
OpenBao KV v2, saves a ``VaultConnection`` (AppRole) and a ``VendorApi`` block whose
credentials reference those secrets (``vault:...``), runs the flow, prints what it
wrote and how many token requests the vendor saw, and stops everything.

Against your own vendor, save the blocks once (UI or code) and call the flow with the
block's name: nothing here is needed.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from vendorgate.testing import OpenBaoServer, VendorSandbox

KV = "vendorgate/examples"
POLICY = f"""
path "secret/data/{KV}/*" {{ capabilities = ["read"] }}
path "sys/internal/ui/mounts/*" {{ capabilities = ["read"] }}
"""


def save_blocks(
    preset: str,
    sandbox: VendorSandbox,
    openbao: OpenBaoServer,
    *,
    name: str | None = None,
    client_id: str | None = None,
) -> str:
    """Store ``preset``'s demo credentials in OpenBao and save its blocks; return the
    ``VendorApi`` block's name. ``client_id`` registers a new client (with the demo
    secret) instead of using the demo client: its tokens are cached apart."""
    from pydantic import SecretStr

    from vendorgate.prefect import VaultConnection, VendorApi, VendorCredentials

    creds = sandbox.demo_credentials(preset)
    vendor = creds["token_url"].rstrip("/").split("/")[3]
    secret: dict[str, str] = {"client_secret": creds["client_secret"].reveal()}
    if creds.get("password") is not None:
        secret.update(username=creds["username"], password=creds["password"].reveal())
    secret["private_key"] = sandbox.demo_private_key_pem.reveal()
    bao = openbao.client()
    bao.secrets.kv.v2.create_or_update_secret(path=f"{KV}/{vendor}", secret=secret)
    role_id, secret_id = openbao.create_approle("vendorgate-examples", policy_hcl=POLICY)
    vault = VaultConnection(
        address=openbao.url, auth_method="approle", role_id=role_id, secret_id=SecretStr(secret_id)
    )
    ref = f"vault:secret/{KV}/{vendor}"
    fields: dict[str, Any] = {
        "preset": preset,
        "token_url": creds["token_url"],
        "tenant": creds.get("tenant"),
        "vault": vault,
    }
    if preset == "oauth2-private-key-jwt":
        fields.update(client_id=creds["jwt_client_id"], private_key_ref=f"{ref}#private_key")
    else:
        if client_id is not None:
            sandbox.add_client(preset, client_id, client_secret=creds["client_secret"])
        fields.update(
            client_id=client_id or creds["client_id"], client_secret_ref=f"{ref}#client_secret"
        )
    if creds.get("password") is not None:
        fields.update(username_ref=f"{ref}#username", password_ref=f"{ref}#password")
    api = VendorApi(credentials=VendorCredentials(**fields), base_url=sandbox.api_url(preset))
    block_name = name or f"{preset}-api"
    api.save(block_name, overwrite=True)
    return block_name


@contextmanager
def sandbox_and_openbao(dataset_size: int = 1000) -> Iterator[tuple[VendorSandbox, OpenBaoServer]]:
    """A vendor sandbox and an OpenBao dev server, stopped on exit."""
    from vendorgate.testing import OpenBaoServer, VendorSandbox

    with OpenBaoServer() as openbao, VendorSandbox(dataset_size=dataset_size) as sandbox:
        yield sandbox, openbao


def run_example(preset: str, flow: Callable[..., Any], **flow_kwargs: Any) -> Any:
    """Run ``flow(api_block=..., output_dir=..., **flow_kwargs)`` against the sandbox.

    Without ``PREFECT_API_URL`` Prefect starts a temporary local server; it may take a
    while on a busy machine, hence the longer startup timeout.
    """
    from prefect.settings import (
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    with (
        temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 180}),
        sandbox_and_openbao() as (sandbox, openbao),
        tempfile.TemporaryDirectory() as tmp,
    ):
        block = save_blocks(preset, sandbox, openbao)
        out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
        result = flow(api_block=block, output_dir=str(out), **flow_kwargs)
        outputs = result.get("outputs") or [result["output"]]
        print(
            f"{preset}: {result.get('task_runs', 1)} task run(s) wrote {result['records']} "
            f"records to {len(outputs)} file(s) in {Path(outputs[0]).parent}"
        )
        print(f"token requests seen by the sandbox: {sandbox.counters().tokens()}")
        return result
