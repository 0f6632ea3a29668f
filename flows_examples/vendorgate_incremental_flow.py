"""Pull only the items that are new since the last successful run, on a schedule.

``extract_vendor_data(..., incremental={"field": "id", "param": "since_id"})`` reads the
high-water mark the last committed run stored (the largest ``id`` it wrote), sends it as
``since_id``, writes the new records to this run's own file (``items-<YYYYMMDD>.jsonl``,
from the flow run's scheduled time) and stores the new mark only after that file is
committed. The mark lives in a Prefect Variable (``vendorgate-mark-incremental-items-
extract-vendor-data-items-<hash>``; ``prefect variable ls`` shows it, ``unset`` starts
over); it holds the mark and file paths, never a secret.

Exactly once across a crash: a run killed after its file was committed but before the
mark was stored left an *intent* in the Variable (the mark it started from, its output,
the mark it was about to store). Running that date again (a flow retry, or
``run_date=...``) fetches from the old mark and replaces its own file; the next
scheduled run instead finds the committed file and moves on from the intent's mark.
Either way no record is lost or written twice.

Run it once against a local sandbox with ``python vendorgate_incremental_flow.py
[OUTPUT_DIR]`` (see ``_sandbox_blocks.py``). Scheduled, one run at a time (two
overlapping runs would both start from the same mark)::

    incremental_items.serve(name="daily", cron="0 6 * * *", global_limit=1)

or ``concurrency_limit=1`` on a deployment that a worker runs.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from vendorgate.prefect import extract_vendor_data


@flow(name="incremental-items")
def incremental_items(
    api_block: str = "lonewolf-api", output_dir: str = ".", run_date: str | None = None
) -> dict[str, Any]:
    """Extract the items added since the last committed run to
    ``OUTPUT_DIR/items-<run_date>.jsonl`` (default: the scheduled date, ``YYYYMMDD``)."""
    from prefect.runtime import flow_run

    day = run_date or flow_run.scheduled_start_time.strftime("%Y%m%d")
    return extract_vendor_data(
        api_block,
        "/items",
        output=f"{output_dir}/items-{day}.jsonl",
        paginator={"type": "page_number", "page_size": 50, "records_path": "items"},
        incremental={"field": "id", "param": "since_id"},
    )


if __name__ == "__main__":
    from _sandbox_blocks import run_example

    run_example("lonewolf", incremental_items)
