"""Fixtures for the HTTP client tests."""

from __future__ import annotations

import pytest
import stamina


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture
def no_backoff():  # type: ignore[no-untyped-def]
    """stamina's testing mode: no waits, attempts as configured by each test's policy."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield
