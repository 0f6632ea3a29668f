"""Fixtures of the cache tests: a fake clock, the async backend and the backend matrix."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cache_helpers import REDIS_URL, FakeClock, redis_prefix_cleanup

from vendorgate.testing.openbao import OpenBaoServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def vault_for_cache(openbao: OpenBaoServer) -> tuple[str, str]:
    """``(url, root_token)`` of the session's OpenBao dev server (KV v2 at ``secret/``)."""
    return openbao.url, openbao.root_token


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix in the local Redis, deleted afterwards."""
    prefix = f"vgtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    redis_prefix_cleanup(REDIS_URL, prefix)


@pytest.fixture(params=["memory", "file", "redis", "vault"])
def backend_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """One spec per shared backend: every backend passes the same contract suite."""
    kind = request.param
    run = uuid.uuid4().hex[:12]
    if kind == "memory":
        yield {"kind": "memory", "id": run}
    elif kind == "file":
        yield {"kind": "file", "directory": str(tmp_path / "cache")}
    elif kind == "redis":
        spec = {"kind": "redis", "url": REDIS_URL, "prefix": f"vgtest:{run}:"}
        yield spec
        redis_prefix_cleanup(spec["url"], spec["prefix"])
    else:
        url, token = request.getfixturevalue("vault_for_cache")
        yield {"kind": "vault", "url": url, "token": token, "prefix": f"vgtest/{run}"}
