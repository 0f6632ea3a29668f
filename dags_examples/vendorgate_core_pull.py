"""Pull a vendor's items from an Airflow 3 DAG with the vendorgate core.

Two tasks of one run share one token through the shared file cache: the vendor sees a
single token request. The client secret stays in Vault (a ``vault:`` reference in the
configuration), and XCom carries only counts and a path.

Configuration: the Airflow Variable ``vendorgate_example`` (JSON), e.g. set through the
environment as ``AIRFLOW_VAR_VENDORGATE_EXAMPLE``::

    {
      "token": {"preset": "lonewolf", "client_id": "demo-client",
                "token_url": "https://gateway.lwolf.com/oauth/token",
                "client_secret": "vault:secret/vendors/lonewolf#client_secret"},
      "api_url": "https://backoffice.api.lwolf.com/v1",
      "path": "/items",
      "cache_dir": "/shared/vendorgate-token-cache",
      "output": "/data/lonewolf/items.jsonl"
    }

Vault is reached through the standard ``VAULT_*`` environment variables of the workers.
The provider package (hooks, operators, an Airflow-Variable token cache) will replace the
glue in these tasks; the DAG file itself imports nothing heavy at parse time.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Variable, dag, task


def _provider(settings: dict[str, Any]) -> Any:
    from vendorgate.cache import FileBackend, TokenCache
    from vendorgate.tokens import TokenConfig, TokenProvider

    config = TokenConfig.from_mapping(settings["token"])
    return TokenProvider(config, cache=TokenCache(FileBackend(settings["cache_dir"])))


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
        settings = Variable.get("vendorgate_example", deserialize_json=True)
        token = _provider(settings).get_token()
        return {"expires_in_s": round(token.remaining_s()), "scope": token.scope}

    @task
    def pull(_: dict[str, Any]) -> dict[str, Any]:
        from vendorgate.http import PageNumber, VendorClient

        settings = Variable.get("vendorgate_example", deserialize_json=True)
        with VendorClient(_provider(settings), base_url=settings["api_url"]) as client:
            result = client.pull(
                settings["path"],
                PageNumber(page_size=50, records_path="items"),
                output=settings["output"],
            )
        return {"output": result.output, "records": result.records, "pages": result.pages}

    pull(check_token())


vendorgate_core_pull()

if __name__ == "__main__":
    # `python vendorgate_core_pull.py` runs the DAG once in-process (Airflow's dag.test()).
    run = vendorgate_core_pull().test()
    raise SystemExit(0 if run is not None and run.state == "success" else 1)
