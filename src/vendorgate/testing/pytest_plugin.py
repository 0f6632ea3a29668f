"""pytest fixtures shipped with vendorgate (registered through the ``pytest11`` entry point).

Fixtures:
    vendor_sandbox: session-scoped :class:`vendorgate.testing.VendorSandbox` on 127.0.0.1.
    sandbox: the same server, with faults and counters reset before each test.
    openbao: session-scoped :class:`vendorgate.testing.OpenBaoServer` (``bao server -dev``)
        with KV v2, Transit and AppRole enabled; stopped at session end.

Importing this module is cheap: servers are imported and started only when a fixture
is requested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vendorgate.testing.openbao import OpenBaoServer
    from vendorgate.testing.sandbox import VendorSandbox


@pytest.fixture(scope="session")
def vendor_sandbox() -> Iterator[VendorSandbox]:
    """A vendor sandbox serving all five dialects and the data API for the whole session."""
    from vendorgate.testing.sandbox import VendorSandbox

    with VendorSandbox() as server:
        yield server


@pytest.fixture
def sandbox(vendor_sandbox: VendorSandbox) -> VendorSandbox:
    """The session's vendor sandbox with faults, counters and revocations reset."""
    vendor_sandbox.reset()
    return vendor_sandbox


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBaoServer]:
    """A real OpenBao dev server (KV v2, Transit, AppRole) for the whole session."""
    from vendorgate.testing.openbao import OpenBaoServer

    with OpenBaoServer() as server:
        yield server
