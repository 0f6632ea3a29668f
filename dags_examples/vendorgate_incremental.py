"""Pull only the records that are new since the last successful run, every day.

``VendorExtractOperator(incremental={"field": "id", "param": "since_id"})`` reads the
high-water mark the last committed run stored (the largest ``id`` it wrote), sends it as
``since_id``, writes the new records to this run's own file and stores the new mark only
after that file is committed. The mark lives in the Airflow Variable
``vendorgate_mark_vendorgate_incremental.new_items`` (delete it to pull everything
again); it holds the mark and file paths, never a secret.

Exactly once across a crash: a run killed after its file was committed but before the
mark was stored left an *intent* in the Variable (the mark it started from, its output,
the mark it was about to store). Rerunning that run (``airflow tasks clear``, a retry)
fetches from the old mark again and replaces its own file, so the file holds every one
of those records once; the next scheduled run instead finds the committed file and
moves on from the intent's mark. Either way no record is lost or written twice.

Why a stored mark and not ``{{ data_interval_start }}``: this vendor filters by id only
(``since_id``), and a run that was skipped or late must still pick up everything; see
``docs/airflow/operators.md`` ("Incremental pulls").

How to run it:

1. Create the connection ``vendorgate_example`` (type ``vendorgate``) as described in
   ``vendorgate_mapped_pages.py``.
2. Unpause the DAG; or in-process, one run per logical date:
   ``python dags_examples/vendorgate_incremental.py 2026-01-01`` (``dag.test()``; give the
   connection as ``AIRFLOW_CONN_VENDORGATE_EXAMPLE`` there).

Outputs: ``$VENDORGATE_OUTPUT_DIR/items-<YYYYMMDD>.jsonl`` (default
``/tmp/vendorgate-output``); XCom holds the path, the counts and the marks.
"""

from __future__ import annotations

import os
import sys

import pendulum
from airflow.sdk import dag

from vendorgate.airflow.operators import VendorExtractOperator

CONN_ID = "vendorgate_example"
OUTPUT_DIR = os.environ.get("VENDORGATE_OUTPUT_DIR", "/tmp/vendorgate-output")


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,  # unpause once the connection exists
    tags=["vendorgate", "example", "incremental"],
)
def vendorgate_incremental() -> None:
    """Each run writes the records added since the last committed run."""
    VendorExtractOperator(
        task_id="new_items",
        vendorgate_conn_id=CONN_ID,
        endpoint="/items",
        paginator={"type": "page_number", "page_size": 50, "records_path": "items"},
        output_path=OUTPUT_DIR + "/items-{{ ds_nodash }}.jsonl",  # one file per run
        incremental={"field": "id", "param": "since_id"},
    )


example = vendorgate_incremental()

if __name__ == "__main__":
    # `python vendorgate_incremental.py [LOGICAL_DATE]`: one run in-process (dag.test()).
    logical_date = pendulum.parse(sys.argv[1]) if len(sys.argv) > 1 else None
    run = example.test(logical_date=logical_date)
    raise SystemExit(0 if run is not None and run.state == "success" else 1)
