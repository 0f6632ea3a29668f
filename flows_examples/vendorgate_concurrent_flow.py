"""Many tasks, one token: concurrent extracts that share a vendor token through Prefect.

Every task run loads the same ``VendorApi`` block; the token cache behind it keeps one
encrypted block document per token and refreshes under a global concurrency limit of 1,
so the vendor sees one token request for all task runs, in one process or across
workers. Each task writes its own JSON Lines file and returns path and counts only.

Run it with ``python vendorgate_concurrent_flow.py [OUTPUT_DIR]``: it starts a local
vendor sandbox and OpenBao, saves the blocks, runs 24 task runs and prints where the
files landed and how many token requests the sandbox saw.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from vendorgate.prefect import extract_vendor_data


@flow(name="vendorgate-concurrent-extract")
def concurrent_extract(
    api_block: str = "oauth2-basic-api", output_dir: str = ".", tasks: int = 24, run: str = "run"
) -> dict[str, Any]:
    """Extract ``/items`` ``tasks`` times at once; return the files and the record count."""
    futures = [
        extract_vendor_data.submit(
            api_block,
            "/items",
            output=f"{output_dir}/{run}-part-{i:02d}.jsonl",
            paginator={"type": "page_number", "page_size": 250, "records_path": "items"},
        )
        for i in range(tasks)
    ]
    results = [f.result() for f in futures]
    return {
        "task_runs": len(results),
        "records": sum(r["records"] for r in results),
        "outputs": sorted(r["output"] for r in results),
    }


if __name__ == "__main__":
    from _sandbox_blocks import run_example

    run_example("oauth2-basic", concurrent_extract)
