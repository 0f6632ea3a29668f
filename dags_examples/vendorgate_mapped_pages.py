"""Twenty-four mapped tasks read a vendor API with one shared token, then a full extract.

Dynamic task mapping runs ``VendorApiOperator`` once per page (24 task instances, each
its own worker process under the LocalExecutor); ``VendorExtractOperator`` then pulls
every page into one JSON Lines file. All of them get their token from the connection's
token cache (Airflow Variables, refreshes serialised by a file lock): the vendor sees
**one** token request for the whole DAG run.

How to run it:

1. Create the connection ``vendorgate_example`` (type ``vendorgate``), e.g. for the vendor
   sandbox (``vendorgate sandbox``) with the secret in Vault::

       airflow connections add vendorgate_example --conn-json '{
         "conn_type": "vendorgate", "host": "http://127.0.0.1:8700/lonewolf/api",
         "login": "demo-client",
         "extra": {"preset": "lonewolf",
                   "auth_url": "http://127.0.0.1:8700/lonewolf/oauth/token",
                   "client_secret_ref": "vault:secret/vendorgate/airflow/lonewolf#client_secret"}}'

   (or export it as ``AIRFLOW_CONN_VENDORGATE_EXAMPLE``), and give the workers
   ``VAULT_ADDR`` and ``VAULT_TOKEN``.
2. Optionally set ``VENDORGATE_OUTPUT_DIR`` (default ``/tmp/vendorgate-output``) where the
   DAG processor and the workers see it.
3. ``airflow dags trigger vendorgate_mapped_pages``, or run it once in-process with
   ``python dags_examples/vendorgate_mapped_pages.py`` (Airflow's ``dag.test()``).

``vendorgate demo`` runs this DAG end to end against the sandbox and a local OpenBao.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from vendorgate.airflow.operators import VendorApiOperator, VendorExtractOperator

CONN_ID = "vendorgate_example"
OUTPUT_DIR = os.environ.get("VENDORGATE_OUTPUT_DIR", "/tmp/vendorgate-output")
PAGES = 24
PAGE_SIZE = 5


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=8,
    tags=["vendorgate", "example"],
)
def vendorgate_mapped_pages() -> None:
    """Read 24 pages in parallel, count them, then extract everything to one file."""
    pages = VendorApiOperator.partial(
        task_id="read_page", vendorgate_conn_id=CONN_ID, endpoint="/items"
    ).expand(query_params=[{"page": n, "per_page": PAGE_SIZE} for n in range(1, PAGES + 1)])

    @task
    def count(replies: list[dict[str, Any]]) -> dict[str, int]:
        ids = [item["id"] for reply in replies for item in reply["items"]]
        return {"pages": len(replies), "records": len(ids), "distinct": len(set(ids))}

    extract = VendorExtractOperator(
        task_id="extract_all",
        vendorgate_conn_id=CONN_ID,
        endpoint="/items",
        paginator={"type": "page_number", "page_size": 50, "records_path": "items"},
        output_path=f"{OUTPUT_DIR}/items.jsonl",
    )
    count(pages.output) >> extract


vendorgate_mapped_pages()

if __name__ == "__main__":
    run = vendorgate_mapped_pages().test()
    raise SystemExit(0 if run is not None and run.state == "success" else 1)
