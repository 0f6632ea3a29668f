"""One DAG per vendor preset: check the token, call the API once, extract every page.

For each preset (``techwolf-eu``, ``techwolf-us``, ``lonewolf``, ``tci-atm``,
``oauth2-basic``, ``oauth2-post``, ``oauth2-private-key-jwt``, ``wokelo``) this file
defines the DAG ``vendorgate_preset_<preset>`` reading the connection
``vendorgate_<preset with _>`` (e.g. ``vendorgate_tci_atm``). Each connection's secrets
are Vault references (``client_secret_ref``, ``private_key_ref``,
``password_grant_username``/``_password``); the workers log in to Vault with
``VAULT_ADDR``/``VAULT_TOKEN``.

How to run it:

1. Start the sandbox and OpenBao, write the demo secrets and print the connections:
   ``vendorgate.airflow._sandbox.store_sandbox_secrets`` and ``sandbox_connection``
   (the test ``tests/airflow/test_dag_examples.py`` does exactly this), then
   ``airflow connections add vendorgate_lonewolf --conn-json '<that JSON>'``.
2. ``airflow dags trigger vendorgate_preset_lonewolf``, or in-process:
   ``python dags_examples/vendorgate_presets.py lonewolf`` (``dag.test()``; ``all`` runs
   every preset's DAG).

Outputs go to ``$VENDORGATE_OUTPUT_DIR/<preset>.jsonl`` (default ``/tmp/vendorgate-output``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from vendorgate.airflow.operators import VendorApiOperator, VendorExtractOperator

PRESETS = (
    "techwolf-eu",
    "techwolf-us",
    "lonewolf",
    "tci-atm",
    "oauth2-basic",
    "oauth2-post",
    "oauth2-private-key-jwt",
    "wokelo",
)
OUTPUT_DIR = os.environ.get("VENDORGATE_OUTPUT_DIR", "/tmp/vendorgate-output")


def conn_id(preset: str) -> str:
    """The connection a preset's DAG reads."""
    return "vendorgate_" + preset.replace("-", "_")


def preset_dag(preset: str) -> DAG:
    """The DAG of one preset."""
    with DAG(
        dag_id=f"vendorgate_preset_{preset}",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["vendorgate", "example", preset],
    ) as dag:

        @task
        def check_token(vendorgate_conn_id: str) -> dict[str, Any]:
            from vendorgate.airflow.hooks import VendorGateHook

            token = VendorGateHook(vendorgate_conn_id=vendorgate_conn_id).get_token()
            return {"expires_in_s": round(token.remaining_s()), "scope": token.scope}

        first = VendorApiOperator(
            task_id="first_record",
            vendorgate_conn_id=conn_id(preset),
            endpoint="/items",
            query_params={"page": 1, "per_page": 1},
        )
        extract = VendorExtractOperator(
            task_id="extract",
            vendorgate_conn_id=conn_id(preset),
            endpoint="/items",
            paginator={"type": "page_number", "page_size": 25, "records_path": "items"},
            output_path=f"{OUTPUT_DIR}/{preset}.jsonl",
        )
        check_token(conn_id(preset)) >> first >> extract
    return dag


for _preset in PRESETS:
    globals()[f"dag_{_preset.replace('-', '_')}"] = preset_dag(_preset)

if __name__ == "__main__":
    # python vendorgate_presets.py PRESET [PRESET ...] | all
    chosen = sys.argv[1:] or ["lonewolf"]
    failed = []
    for name in PRESETS if chosen == ["all"] else chosen:
        run = preset_dag(name).test()
        if run is None or run.state != "success":
            failed.append(name)
    print(f"vendorgate preset DAGs failed: {failed}" if failed else "vendorgate preset DAGs ok")
    raise SystemExit(1 if failed else 0)
