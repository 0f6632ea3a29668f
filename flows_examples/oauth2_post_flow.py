"""Pull every item of a generic OAuth 2.0 API, client secret in the request body.

Run it with ``python oauth2_post_flow.py [OUTPUT_DIR]``: it starts a local vendor sandbox
and OpenBao, saves the blocks and runs the flow (see ``_sandbox_blocks.py``). In
production, save a ``VendorApi`` block once and pass its name.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from vendorgate.prefect import extract_vendor_data


@flow(name="oauth2-post-items")
def oauth2_post_items(api_block: str = "oauth2-post-api", output_dir: str = ".") -> dict[str, Any]:
    """Extract ``/items`` to ``OUTPUT_DIR/oauth2-post-items.jsonl``; return path and counts."""
    return extract_vendor_data(
        api_block,
        "/items",
        output=f"{output_dir}/oauth2-post-items.jsonl",
        paginator={"type": "page_number", "page_size": 100, "records_path": "items"},
    )


if __name__ == "__main__":
    from _sandbox_blocks import run_example

    run_example("oauth2-post", oauth2_post_items)
