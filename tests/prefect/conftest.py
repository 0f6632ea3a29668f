"""Prefect's own test harness: a temporary local API server and database for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

if os.environ.get("VENDORGATE_TEST_ENV") == "prefect":
    # The prefect environment owns these tests: a broken prefect install must fail, not skip.
    import prefect  # noqa: F401
else:
    pytest.importorskip(
        "prefect", reason="needs the 'prefect' extra (the .venv-prefect environment)"
    )


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Run flows against a throw-away Prefect server (stopped at session end)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
