"""Concurrent page fetching keeps its window full while an earlier page is slow."""

from __future__ import annotations

import asyncio

import pytest

from vendorgate.http._concurrent import concurrent_pages
from vendorgate.http._pagination import PageRequest


@pytest.mark.anyio
async def test_a_slow_first_page_does_not_stall_the_window() -> None:
    """While page 1 is slow, finished later pages make room for the next fetches."""
    plan = [PageRequest("/items", {"page": n}) for n in range(1, 7)]
    release_first = asyncio.Event()
    started: list[int] = []

    async def one(req: PageRequest) -> list[int]:
        n = int(req.params["page"])
        started.append(n)
        if n == 1:
            await release_first.wait()
        return [n]

    pages = concurrent_pages(one, plan, 2)
    first = asyncio.ensure_future(pages.__anext__())
    for _ in range(20):
        await asyncio.sleep(0)
    # width 2, at most 4 waiting behind page 1: 2..5 started although page 1 is still out
    assert started == [1, 2, 3, 4, 5]
    release_first.set()
    got = [(await first).records[0]] + [page.records[0] async for page in pages]
    assert got == [1, 2, 3, 4, 5, 6]
