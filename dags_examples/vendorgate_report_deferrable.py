"""Order vendor reports, wait for them in the triggerer, then download them.

The vendor builds reports asynchronously: ``POST /reports`` answers at once with a job id,
``GET /reports/{id}`` says ``running`` until the job is ``ready`` (or ``failed``), and
``GET /reports/{id}/download`` pages through the result. The wait is a deferrable
``VendorSensor``: no worker slot is held while the vendor works; the triggerer polls with
the async client and the same shared token as the tasks. The trigger carries plain values
only (connection id, endpoint, check), never a secret or a token.

How to run it:

1. Create the connection ``vendorgate_example`` (type ``vendorgate``) as described in
   ``vendorgate_mapped_pages.py`` (the vendor sandbox serves ``/reports`` for every vendor).
2. Run a triggerer next to the scheduler (``airflow triggerer``).
3. ``airflow dags trigger vendorgate_report_deferrable``; or in-process:
   ``python dags_examples/vendorgate_report_deferrable.py`` (``dag.test()`` runs the
   trigger in-process; give the connection as ``AIRFLOW_CONN_VENDORGATE_EXAMPLE`` there).

Two ways to wait: a deferrable ``VendorSensor`` between ordering and downloading (the
daily report), or a ``VendorExtractOperator`` with ``wait_for`` that defers itself until
the report is ready and then pulls it (the weekly report). The reports land in
``$VENDORGATE_OUTPUT_DIR/report-<run id>.jsonl`` and ``weekly-<run id>.jsonl`` (default
``/tmp/vendorgate-output``); XCom holds job ids, the download link and counts only.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag

from vendorgate.airflow.operators import VendorApiOperator, VendorExtractOperator
from vendorgate.airflow.sensors import VendorSensor

CONN_ID = "vendorgate_example"
OUTPUT_DIR = os.environ.get("VENDORGATE_OUTPUT_DIR", "/tmp/vendorgate-output")
JOB = "{{ ti.xcom_pull(task_ids='order_report')['id'] }}"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vendorgate", "example", "deferrable"],
)
def vendorgate_report_deferrable() -> None:
    """Order, wait (deferred), download."""
    order = VendorApiOperator(
        task_id="order_report",
        vendorgate_conn_id=CONN_ID,
        endpoint="/reports",
        method="POST",
        body={"name": "daily", "records": 120},
    )
    wait = VendorSensor(
        task_id="wait_until_ready",
        vendorgate_conn_id=CONN_ID,
        endpoint=f"/reports/{JOB}",
        response_check={"path": "status", "equals": "ready", "fail_on": ["failed"]},
        result_path="download_url",
        deferrable=True,
        poke_interval=2,
        timeout=600,
        retries=2,  # a stale trigger event can fail a deferred task (apache/airflow#67287)
        retry_delay=pendulum.duration(seconds=5),
    )
    download = VendorExtractOperator(
        task_id="download_report",
        vendorgate_conn_id=CONN_ID,
        endpoint=f"/reports/{JOB}/download",
        paginator={"type": "page_number", "page_size": 50, "records_path": "items"},
        output_path=OUTPUT_DIR + "/report-{{ run_id | replace(':', '_') }}.jsonl",
    )
    order >> wait >> download

    # The same in one task: the extract defers until its report is ready, then pulls.
    order_weekly = VendorApiOperator(
        task_id="order_weekly_report",
        vendorgate_conn_id=CONN_ID,
        endpoint="/reports",
        method="POST",
        body={"name": "weekly", "records": 60},
    )
    weekly = "{{ ti.xcom_pull(task_ids='order_weekly_report')['id'] }}"
    download_weekly = VendorExtractOperator(
        task_id="download_weekly_when_ready",
        vendorgate_conn_id=CONN_ID,
        wait_for={
            "endpoint": f"/reports/{weekly}",
            "response_check": {"path": "status", "equals": "ready", "fail_on": ["failed"]},
        },
        deferrable=True,
        poll_interval_s=2,
        retries=2,
        retry_delay=pendulum.duration(seconds=5),
        endpoint=f"/reports/{weekly}/download",
        paginator={"type": "page_number", "page_size": 50, "records_path": "items"},
        output_path=OUTPUT_DIR + "/weekly-{{ run_id | replace(':', '_') }}.jsonl",
    )
    order_weekly >> download_weekly


vendorgate_report_deferrable()

if __name__ == "__main__":
    run = vendorgate_report_deferrable().test()
    raise SystemExit(0 if run is not None and run.state == "success" else 1)
