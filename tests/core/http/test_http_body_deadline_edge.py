"""A reply that arrived whole is not "late" because the clock passed the deadline.

The attempt's deadline bounds how long a body may take to *arrive*. When the attempt
itself started late (the rate limiter's pause used up the budget, a busy machine), the
whole reply can be in hand with the clock already past the deadline: it must be read
and classified (a 429 is a RateLimitError, not "a slow or stalled server"). A body still
arriving past the deadline stays refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from vendorgate._retry import BodyDeadline, aread_body, read_body

BODY = b'{"error": "rate limited"}'


class Trickle(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body in two halves, without a Content-Length (chunked)."""

    def __iter__(self) -> Iterator[bytes]:
        yield BODY[:10]
        yield BODY[10:]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield BODY[:10]
        yield BODY[10:]


def _declared() -> httpx.Response:
    return httpx.Response(429, content=BODY)  # Content-Length: the body is known whole


def _chunked() -> httpx.Response:
    return httpx.Response(429, stream=Trickle())


def late(now: float = 100.0) -> float:
    return now  # the deadline below is 50: every check sees the clock past it


def test_a_whole_reply_read_after_the_deadline_is_returned() -> None:
    response = _declared()
    assert read_body(response, deadline=50.0, limit=None, clock=late) == BODY
    assert response.json() == {"error": "rate limited"}


def test_a_reply_still_arriving_after_the_deadline_is_refused() -> None:
    with pytest.raises(BodyDeadline):
        read_body(_chunked(), deadline=50.0, limit=None, clock=late)


@pytest.mark.anyio
async def test_async_a_whole_reply_read_after_the_deadline_is_returned() -> None:
    response = _declared()
    assert await aread_body(response, deadline=50.0, limit=None, clock=late) == BODY


@pytest.mark.anyio
async def test_async_a_reply_still_arriving_after_the_deadline_is_refused() -> None:
    with pytest.raises(BodyDeadline):
        await aread_body(_chunked(), deadline=50.0, limit=None, clock=late)
