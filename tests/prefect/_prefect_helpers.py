"""Helpers of the Prefect tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vendorgate.prefect import VendorApi
    from vendorgate.testing import VendorSandbox


def make_api(sandbox: VendorSandbox, preset: str = "oauth2-basic", **changes: object) -> VendorApi:
    """A VendorApi block for a sandbox vendor, its client secret held as a SecretStr."""
    from pydantic import SecretStr

    from vendorgate.prefect import VendorApi, VendorCredentials

    creds = sandbox.demo_credentials(preset)
    credentials = VendorCredentials(
        preset=preset,
        client_id=creds["client_id"],
        token_url=creds["token_url"],
        client_secret=SecretStr(creds["client_secret"].reveal()),
        tenant=creds.get("tenant"),
    )
    return VendorApi(credentials=credentials, base_url=sandbox.api_url(preset), **changes)
