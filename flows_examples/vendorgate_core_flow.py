"""Pull a vendor's items from a Prefect 3 flow with the vendorgate core.

Two tasks share one token through the shared file cache (the vendor sees one token
request); the client secret stays in Vault, referenced as ``vault:...``; task results
carry only counts and a path. The Prefect collection (blocks, tasks, a Prefect-backed
token cache) will replace the glue below.

Run it against the offline sandbox and OpenBao with ``python vendorgate_core_flow.py``
after exporting ``VAULT_ADDR``/``VAULT_TOKEN`` and passing your settings (see
``tests/prefect/test_flow_examples.py`` for a complete, tested invocation).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task


def _provider(settings: dict[str, Any]) -> Any:
    from vendorgate.cache import FileBackend, TokenCache
    from vendorgate.tokens import TokenConfig, TokenProvider

    config = TokenConfig.from_mapping(settings["token"])
    return TokenProvider(config, cache=TokenCache(FileBackend(settings["cache_dir"])))


@task
def check_token(settings: dict[str, Any]) -> dict[str, Any]:
    """Fetch (or reuse) the token and report its remaining lifetime."""
    token = _provider(settings).get_token()
    get_run_logger().info("token ok: %s, %.0f s left", token.fingerprint, token.remaining_s())
    return {"expires_in_s": round(token.remaining_s()), "scope": token.scope}


@task
def pull(settings: dict[str, Any]) -> dict[str, Any]:
    """Pull every page to JSON Lines (atomic file, resumable)."""
    from vendorgate.http import PageNumber, VendorClient

    with VendorClient(_provider(settings), base_url=settings["api_url"]) as client:
        result = client.pull(
            settings["path"],
            PageNumber(page_size=50, records_path="items"),
            output=settings["output"],
        )
    return {"output": result.output, "records": result.records, "pages": result.pages}


@flow(name="vendorgate-core-pull")
def vendorgate_core_pull(settings: dict[str, Any]) -> dict[str, Any]:
    """Check the vendor answers, then pull every page."""
    token = check_token(settings)
    summary = pull(settings, wait_for=[token])
    return {"token": token, **summary}
