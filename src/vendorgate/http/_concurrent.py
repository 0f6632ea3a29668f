"""Fetching planned pages concurrently, emitting them in source order.

When a strategy can list the remaining pages up front (page number or offset/limit with a
total), the async client fetches up to ``width`` of them at once and emits each page as
soon as every page before it is out; memory stays bounded by ``2 * width + 1`` pages.
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

    ``width`` fetches stay in flight whenever possible: a fetch that finishes while an
    earlier page is still out starts the next one at once (no head-of-line stall), and
    at most ``2 * width`` pages wait behind the one awaited, fetched or fetching.

    Each yielded page's ``next`` is the following planned request (``None`` for the
    last). Closing the generator cancels the fetches still running.
    """
    pending: deque[asyncio.Task[Page]] = deque()
    total = len(plan)
    held = 2 * width
    launched = 0
    running = 0
    closing = False

    def finished(_task: asyncio.Task[Page]) -> None:
        nonlocal running
        running -= 1
        if not closing:
            fill()

    def fill() -> None:
        nonlocal launched, running
        while launched < total and running < width and len(pending) < held:
            task = asyncio.ensure_future(one(plan[launched]))
            task.add_done_callback(finished)
            pending.append(task)
            launched += 1
            running += 1

    try:
        fill()
        emitted = 0
        while pending:
            page = await pending.popleft()
            fill()
            emitted += 1
            following = plan[emitted] if emitted < total else None
            yield Page(page.request, page.records, following)
    finally:
        closing = True
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
