"""Fixtures of the cache tests: a fake clock and the async backend."""

from __future__ import annotations

import pytest
from cache_helpers import FakeClock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
