"""Pull every item of TechWolf (EU tenant): client secret from Vault, tenant and audience
from the preset.

Run it with ``python techwolf_eu_flow.py [OUTPUT_DIR]``: it starts a local vendor sandbox
and OpenBao, saves the blocks and runs the flow (see ``_sandbox_blocks.py``). In
production, save a ``VendorApi`` block once and pass its name.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from vendorgate.prefect import extract_vendor_data


@flow(name="techwolf-eu-items")
def techwolf_eu_items(api_block: str = "techwolf-eu-api", output_dir: str = ".") -> dict[str, Any]:
    """Extract ``/items`` to ``OUTPUT_DIR/techwolf-eu-items.jsonl``; return path and counts."""
    return extract_vendor_data(
        api_block,
        "/items",
        output=f"{output_dir}/techwolf-eu-items.jsonl",
        paginator={"type": "page_number", "page_size": 100, "records_path": "items"},
    )


if __name__ == "__main__":
    from _sandbox_blocks import run_example

    run_example("techwolf-eu", techwolf_eu_items)
