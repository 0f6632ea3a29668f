"""Pull a vendor's items from a Prefect 3 flow with the vendorgate core.

Two tasks share one token through the shared file cache (the vendor sees one token
request); the client secret stays in Vault, referenced as ``vault:...``; task results
carry only counts and a path. ``settings["connection"]`` is a
:class:`vendorgate.VendorConnection` mapping (token, API base URL, shared token cache,
retries ...) and ``settings["paginator"]`` one of
:func:`vendorgate.http.paginator_from_mapping`::

    {
      "connection": {
        "token": {"preset": "oauth2-basic", "client_id": "demo-client",
                  "token_url": "https://id.example.com/oauth/token",
                  "client_secret": "vault:secret/vendors/example#client_secret"},
        "base_url": "https://api.example.com/v1",
        "cache": {"backend": "file", "directory": "/shared/vendorgate-token-cache"}
      },
      "path": "/items",
      "paginator": {"type": "page_number", "page_size": 50, "records_path": "items"},
      "output": "/data/example/items.jsonl"
    }

The Prefect collection (a connection block, tasks, a Prefect-backed token cache) will
replace the settings dict with a block.

Run it against the offline sandbox and OpenBao with ``python vendorgate_core_flow.py``
after exporting ``VAULT_ADDR``/``VAULT_TOKEN`` and passing your settings (see
``tests/prefect/test_flow_examples.py`` for a complete, tested invocation).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task


def _spec(settings: dict[str, Any]) -> Any:
    from vendorgate import VendorConnection

    return VendorConnection.from_mapping(settings["connection"])


@task
def check_token(settings: dict[str, Any]) -> dict[str, Any]:
    """Fetch (or reuse) the token and report its remaining lifetime."""
    token = _spec(settings).provider().get_token()
    get_run_logger().info("token ok: %s, %.0f s left", token.fingerprint, token.remaining_s())
    return {"expires_in_s": round(token.remaining_s()), "scope": token.scope}


@task
def pull(settings: dict[str, Any]) -> dict[str, Any]:
    """Pull every page to JSON Lines (atomic file, resumable)."""
    from vendorgate.http import paginator_from_mapping

    paginator = paginator_from_mapping(
        settings.get("paginator", {"type": "page_number", "page_size": 50})
    )
    with _spec(settings).client() as client:
        result = client.pull(settings["path"], paginator, output=settings["output"])
    return {"output": result.output, "records": result.records, "pages": result.pages}


@flow(name="vendorgate-core-pull")
def vendorgate_core_pull(settings: dict[str, Any]) -> dict[str, Any]:
    """Check the vendor answers, then pull every page."""
    token = check_token(settings)
    summary = pull(settings, wait_for=[token])
    return {"token": token, **summary}
