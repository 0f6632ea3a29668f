"""Pull every item of Wokelo: password grant, username and password from Vault.

Run it with ``python wokelo_flow.py [OUTPUT_DIR]``: it starts a local vendor sandbox
and OpenBao, saves the blocks and runs the flow (see ``_sandbox_blocks.py``). In
production, save a ``VendorApi`` block once and pass its name.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from vendorgate.prefect import extract_vendor_data


@flow(name="wokelo-items")
def wokelo_items(api_block: str = "wokelo-api", output_dir: str = ".") -> dict[str, Any]:
    """Extract ``/items`` to ``OUTPUT_DIR/wokelo-items.jsonl``; return path and counts."""
    return extract_vendor_data(
        api_block,
        "/items",
        output=f"{output_dir}/wokelo-items.jsonl",
        paginator={"type": "page_number", "page_size": 100, "records_path": "items"},
    )


if __name__ == "__main__":
    from _sandbox_blocks import run_example

    run_example("wokelo", wokelo_items)
