"""Fixtures for the HTTP client tests."""

from __future__ import annotations

import pytest

from vendorgate.http import retry_testing


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture
def no_backoff():  # type: ignore[no-untyped-def]
    """vendorgate's retry testing mode: no waits, at most 10 attempts per request."""
    with retry_testing(attempts=10):
        yield
