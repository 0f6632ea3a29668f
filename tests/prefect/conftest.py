"""Prefect's own test harness: a temporary local API server and database for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("prefect", reason="needs the 'prefect' extra (the .venv-prefect environment)")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Run flows against a throw-away Prefect server (stopped at session end)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
