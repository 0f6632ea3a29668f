"""Concurrent first validations share one JWKS download per URL."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from vendorgate.dialects import get_dialect
from vendorgate.tokens import JwksValidator, TokenConfig, TokenFetcher

pytestmark = pytest.mark.slow

WORKERS = 6


def _token(sandbox) -> str:
    cfg = TokenConfig(
        dialect=get_dialect("tci-atm"),
        client_id="demo-client",
        client_secret="literal:" + sandbox.demo_credentials("tci")["client_secret"].reveal(),
        token_url=sandbox.token_url("tci"),
        validate_tokens=False,
    )
    return TokenFetcher(cfg).fetch().access_token


def test_concurrent_threads_fetch_the_jwks_once(sandbox) -> None:
    """Six threads validating at once cause one JWKS download, not six."""
    token = _token(sandbox)
    gets = 0
    # Every downloading thread waits here for the others: without single flight all six
    # arrive and download; with it only one does, and its wait times out.
    barrier = threading.Barrier(WORKERS, timeout=1.5)

    def hook(request: httpx.Request) -> None:
        nonlocal gets
        gets += 1
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    client = httpx.Client(event_hooks={"request": [hook]})
    validator = JwksValidator(sandbox.jwks_url())
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(
            pool.map(lambda _: validator.validate(token, http_client=client), range(WORKERS))
        )
    assert len(results) == WORKERS
    assert gets == 1


@pytest.mark.anyio
async def test_concurrent_tasks_fetch_the_jwks_once(sandbox) -> None:
    """Six tasks validating at once on one event loop cause one JWKS download."""
    token = await asyncio.to_thread(_token, sandbox)
    gets = 0

    async def hook(request: httpx.Request) -> None:
        nonlocal gets
        gets += 1
        await asyncio.sleep(0.2)  # widen the window in which the others ask

    client = httpx.AsyncClient(event_hooks={"request": [hook]})
    validator = JwksValidator(sandbox.jwks_url())
    await asyncio.gather(*(validator.avalidate(token, http_client=client) for _ in range(WORKERS)))
    await client.aclose()
    assert gets == 1
