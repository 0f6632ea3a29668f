"""Fetching planned pages concurrently, emitting them in source order.

When a strategy can list the remaining pages up front (page number or offset/limit with a
total), the async client fetches up to ``width`` of them at once and emits each page as
soon as every page before it is out; memory stays bounded by ``width``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING

from vendorgate.http._pagination import Page

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

    from vendorgate.http._pagination import PageRequest

__all__ = ["concurrent_pages"]


async def concurrent_pages(
    one: Callable[[PageRequest], Awaitable[Page]], plan: Sequence[PageRequest], width: int
) -> AsyncGenerator[Page, None]:
    """Fetch every request of ``plan`` with ``one``, ``width`` at a time; yield in order.

    Each yielded page's ``next`` is the following planned request (``None`` for the
    last). Closing the generator cancels the fetches still running.
    """
    pending: deque[asyncio.Task[Page]] = deque()
    total = len(plan)
    launched = 0

    def launch() -> None:
        nonlocal launched
        pending.append(asyncio.ensure_future(one(plan[launched])))
        launched += 1

    try:
        while launched < min(width, total):
            launch()
        emitted = 0
        while pending:
            page = await pending.popleft()
            if launched < total:
                launch()
            emitted += 1
            following = plan[emitted] if emitted < total else None
            yield Page(page.request, page.records, following)
    finally:
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
