"""Fifty mapped page reads for the CeleryExecutor deployment test, then two outputs.

A variant of ``dags_examples/vendorgate_mapped_pages.py`` sized for two Celery workers:
``PAGES`` mapped ``VendorApiOperator`` tasks read the sandbox's data set page by page
(``PAGES * PAGE_SIZE`` = the data set's 1000 records), each task with retries, so a task
lost with a killed worker runs again on the other one. ``collect`` writes every record
the pages returned to ``pages.jsonl`` (atomically, replaced whole on a retry) and
``extract_all`` pulls the whole data set (``/offset`` route) to ``items.jsonl``, both in
``VENDORGATE_OUTPUT_DIR`` (the one place both workers write to, as an object store would
be for two hosts). The test compares both files with the data set, id by id.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from vendorgate.airflow.operators import VendorApiOperator, VendorExtractOperator

CONN_ID = "vendorgate_celery"
PAGES = 50
# the test sets it so that PAGES pages cover the sandbox's data set
PAGE_SIZE = int(os.environ.get("VENDORGATE_CELERY_PAGE_SIZE", "20"))
OUTPUT_DIR = os.environ.get("VENDORGATE_OUTPUT_DIR", "/tmp/vendorgate-output")


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=8,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
    tags=["vendorgate", "test"],
)
def vendorgate_celery_pages() -> None:
    """Read 50 pages on whichever worker is free, then write them and a full extract."""
    pages = VendorApiOperator.partial(
        task_id="read_page", vendorgate_conn_id=CONN_ID, endpoint="/items"
    ).expand(query_params=[{"page": n, "per_page": PAGE_SIZE} for n in range(1, PAGES + 1)])

    @task
    def collect(replies: list[dict[str, Any]]) -> dict[str, Any]:
        ids = [item["id"] for reply in replies for item in reply["items"]]
        os.makedirs(OUTPUT_DIR, exist_ok=True)
        out = os.path.join(OUTPUT_DIR, "pages.jsonl")
        tmp = f"{out}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            for reply in replies:
                for item in reply["items"]:
                    f.write(json.dumps(item) + "\n")
        os.replace(tmp, out)
        return {"pages": len(replies), "records": len(ids), "distinct": len(set(ids))}

    extract = VendorExtractOperator(
        task_id="extract_all",
        vendorgate_conn_id=CONN_ID,
        # another route than the page reads, so a latency fault on /items slows only them
        endpoint="/offset",
        paginator={"type": "offset_limit", "limit": 250, "records_path": "items"},
        output_path=f"{OUTPUT_DIR}/items.jsonl",
    )
    collect(pages.output) >> extract


vendorgate_celery_pages()
