"""Pull every item of a generic OAuth 2.0 API, private_key_jwt signed with a PEM key from Vault.

Run it with ``python oauth2_private_key_jwt_flow.py [OUTPUT_DIR]``: it starts a local vendor sandbox
and OpenBao, saves the blocks and runs the flow (see ``_sandbox_blocks.py``). In
production, save a ``VendorApi`` block once and pass its name.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from vendorgate.prefect import extract_vendor_data


@flow(name="oauth2-private-key-jwt-items")
def oauth2_private_key_jwt_items(
    api_block: str = "oauth2-private-key-jwt-api", output_dir: str = "."
) -> dict[str, Any]:
    """Extract ``/items`` to ``OUTPUT_DIR/oauth2-private-key-jwt-items.jsonl``.

    Returns path and counts."""
    return extract_vendor_data(
        api_block,
        "/items",
        output=f"{output_dir}/oauth2-private-key-jwt-items.jsonl",
        paginator={"type": "page_number", "page_size": 100, "records_path": "items"},
    )


if __name__ == "__main__":
    from _sandbox_blocks import run_example

    run_example("oauth2-private-key-jwt", oauth2_private_key_jwt_items)
