"""The reply body cap at its edge, sync and async: a body of exactly ``max_body_bytes``
arrives whole (in several chunks), one byte more is refused naming the cap, whether the
reply declares its length or streams it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import BadResponseError
from vendorgate.http import AsyncVendorClient, RetryPolicy, VendorClient

CAP = 1000
POLICY = RetryPolicy(attempts=1, max_body_bytes=CAP)


def _body(size: int) -> bytes:
    inner = b"x" * (size - 8)
    return b'{"a":"' + inner + b'"}'


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body in 100-byte chunks, without a Content-Length."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), 100):
            yield self.data[i : i + 100]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.data), 100):
            yield self.data[i : i + 100]


def _reply(size: int, streamed: bool) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        data = _body(size)
        if streamed:
            return httpx.Response(200, stream=Chunks(data))
        return httpx.Response(200, content=data)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
def test_a_body_at_the_cap_arrives_whole_and_one_byte_more_is_refused(streamed: bool) -> None:
    """Sync: exactly the cap is fine and intact; cap + 1 is a BadResponseError naming it."""
    with VendorClient(
        FakeSource(), base_url="https://a.test", retry=POLICY, transport=_reply(CAP, streamed)
    ) as client:
        assert client.get("/x").content == _body(CAP)
    with (
        VendorClient(
            FakeSource(),
            base_url="https://a.test",
            retry=POLICY,
            transport=_reply(CAP + 1, streamed),
        ) as client,
        pytest.raises(
            BadResponseError, match=r"body larger than 1,000 bytes \(RetryPolicy.max_body_bytes\)"
        ),
    ):
        client.get("/x")


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
async def test_async_a_body_at_the_cap_arrives_whole_and_one_byte_more_is_refused(
    streamed: bool,
) -> None:
    """Async: the same edge."""
    async with AsyncVendorClient(
        FakeSource(), base_url="https://a.test", retry=POLICY, transport=_reply(CAP, streamed)
    ) as client:
        assert (await client.get("/x")).content == _body(CAP)
    async with AsyncVendorClient(
        FakeSource(), base_url="https://a.test", retry=POLICY, transport=_reply(CAP + 1, streamed)
    ) as client:
        with pytest.raises(
            BadResponseError, match=r"body larger than 1,000 bytes \(RetryPolicy.max_body_bytes\)"
        ):
            await client.get("/x")


def test_a_compressed_reply_is_capped_on_its_decoded_size() -> None:
    """The cap is on the decoded body: a gzip reply whose declared (compressed) length
    is over the cap while its decoded body fits arrives whole, not refused early."""
    import gzip
    import random

    data = random.Random(13).randbytes(CAP - 10)  # incompressible: gzip makes it longer
    packed = gzip.compress(data)
    assert len(packed) > CAP

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=packed, headers={"Content-Encoding": "gzip"})

    with VendorClient(
        FakeSource(),
        base_url="https://a.test",
        retry=POLICY,
        transport=httpx.MockTransport(handler),
    ) as client:
        assert client.get("/x").content == data
