"""Prefect's own test harness: a temporary local API server and database for the session.

Set ``VENDORGATE_PREFECT_TEST_API=http://127.0.0.1:PORT/api`` to run the tests against
an already running server instead (faster while developing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest.importorskip("prefect", reason="needs the 'prefect' extra (the .venv-prefect environment)")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Run flows against a throw-away Prefect server (stopped at session end)."""
    url = os.environ.get("VENDORGATE_PREFECT_TEST_API")
    if url:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: url}):
            yield
        return
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
