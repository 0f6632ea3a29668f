"""Fixtures for the secrets tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vendorgate.secrets import VaultSession


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_shared_sessions() -> Iterator[None]:
    """Each test starts without shared Vault sessions from earlier tests."""
    VaultSession.clear_shared()
    yield
    VaultSession.clear_shared()
