"""Pull every item of TCI ATM: client secret from Vault; tokens verified against the vendor's JWKS.

Run it with ``python tci_atm_flow.py [OUTPUT_DIR]``: it starts a local vendor sandbox
and OpenBao, saves the blocks and runs the flow (see ``_sandbox_blocks.py``). In
production, save a ``VendorApi`` block once and pass its name.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from vendorgate.prefect import extract_vendor_data


@flow(name="tci-atm-items")
def tci_atm_items(api_block: str = "tci-atm-api", output_dir: str = ".") -> dict[str, Any]:
    """Extract ``/items`` to ``OUTPUT_DIR/tci-atm-items.jsonl``; return path and counts."""
    return extract_vendor_data(
        api_block,
        "/items",
        output=f"{output_dir}/tci-atm-items.jsonl",
        paginator={"type": "page_number", "page_size": 100, "records_path": "items"},
    )


if __name__ == "__main__":
    from _sandbox_blocks import run_example

    run_example("tci-atm", tci_atm_items)
