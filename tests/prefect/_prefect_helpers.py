"""Helpers of the Prefect tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vendorgate.prefect import VendorApi
    from vendorgate.testing import VendorSandbox

FLOWS = Path(__file__).resolve().parents[2] / "flows_examples"


def load_flow_example(name: str) -> Any:
    """Import ``flows_examples/<name>.py`` as module ``name`` (and its sibling modules)."""
    if str(FLOWS) not in sys.path:
        sys.path.insert(0, str(FLOWS))  # the flows import their sibling _sandbox_blocks
    spec = importlib.util.spec_from_file_location(name, FLOWS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
