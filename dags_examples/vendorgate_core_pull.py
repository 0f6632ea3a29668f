"""Pull a vendor's items from an Airflow 3 DAG with the vendorgate core.

Two tasks of one run share one token through the shared file cache: the vendor sees a
single token request. The client secret stays in Vault (a ``vault:`` reference in the
configuration), and XCom carries only counts and a path.

Configuration: the Airflow Variable ``vendorgate_example`` (JSON), e.g. set through the
environment as ``AIRFLOW_VAR_VENDORGATE_EXAMPLE``. Its ``connection`` is a
:class:`vendorgate.VendorConnection` mapping (token, API base URL, shared token cache,
retries ...), its ``paginator`` one of :func:`vendorgate.http.paginator_from_mapping`::

    {
      "connection": {
        "token": {"preset": "lonewolf", "client_id": "demo-client",
                  "token_url": "https://gateway.lwolf.com/oauth/token",
                  "client_secret": "vault:secret/vendors/lonewolf#client_secret"},
        "base_url": "https://backoffice.api.lwolf.com/v1",
        "cache": {"backend": "file", "directory": "/shared/vendorgate-token-cache"}
      },
      "path": "/items",
      "paginator": {"type": "page_number", "page_size": 50, "records_path": "items"},
      "output": "/data/lonewolf/items.jsonl"
    }

Vault is reached through the standard ``VAULT_*`` environment variables of the workers.
The provider package (hooks, operators, an Airflow-Variable token cache) will replace the
Variable with an Airflow connection; the DAG file itself imports nothing heavy at parse
time.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Variable, dag, task


def _settings() -> tuple[Any, dict[str, Any]]:
    """The connection spec and the rest of the settings (imported only when a task runs)."""
    from vendorgate import VendorConnection

    settings = Variable.get("vendorgate_example", deserialize_json=True)
    return VendorConnection.from_mapping(settings["connection"]), settings


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vendorgate", "example"],
)
def vendorgate_core_pull() -> None:
    """Check the vendor answers, then pull every page to JSON Lines."""

    @task
    def check_token() -> dict[str, Any]:
        spec, _ = _settings()
        token = spec.provider().get_token()
        return {"expires_in_s": round(token.remaining_s()), "scope": token.scope}

    @task
    def pull(_: dict[str, Any]) -> dict[str, Any]:
        from vendorgate.http import paginator_from_mapping

        spec, settings = _settings()
        paginator = paginator_from_mapping(
            settings.get("paginator", {"type": "page_number", "page_size": 50})
        )
        with spec.client() as client:
            result = client.pull(settings["path"], paginator, output=settings["output"])
        return {"output": result.output, "records": result.records, "pages": result.pages}

    pull(check_token())


vendorgate_core_pull()

if __name__ == "__main__":
    # `python vendorgate_core_pull.py` runs the DAG once in-process (Airflow's dag.test()).
    run = vendorgate_core_pull().test()
    raise SystemExit(0 if run is not None and run.state == "success" else 1)
