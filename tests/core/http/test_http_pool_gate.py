"""The async client's requests enter httpcore's connection pool one at a time.

httpcore hands a queued request the first idle connection and marks it busy only a few
loop turns later; two requests entering within those turns are handed the same one and
one of them retries (``ConnectionNotAvailable``, another pass over the pool), sometimes
many times over. The client's pool gate lets the next request in once the one before
took its connection, so that never happens; the gate must never stay shut (cancellation,
failures) and must let waiters in in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import TYPE_CHECKING

import httpx
import pytest
from http_helpers import provider_for

from vendorgate.http import AsyncVendorClient, PageNumber, RetryPolicy
from vendorgate.http._send import PoolGate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vendorgate.testing.sandbox import VendorSandbox
    from vendorgate.tokens import Token, TokenProvider

API = "/lonewolf/api/*"


@pytest.fixture
def pool_retries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every ``ConnectionNotAvailable`` retry httpcore's async pool makes (counted, then
    done as before)."""
    from httpcore._async import connection_pool

    retries: list[int] = []
    clear = connection_pool.AsyncPoolRequest.clear_connection

    def counted(self: connection_pool.AsyncPoolRequest) -> None:
        retries.append(1)
        clear(self)

    monkeypatch.setattr(connection_pool.AsyncPoolRequest, "clear_connection", counted)
    return retries


@pytest.mark.anyio
async def test_concurrent_walk_never_hands_two_requests_one_connection(
    sandbox: VendorSandbox,
    pool_retries: list[int],
) -> None:
    """100 pages, 8 at a time, in order: not one request is handed a connection another
    request took (no pool retry), and every record arrives once, in order."""
    async with AsyncVendorClient(
        provider_for(sandbox), base_url=sandbox.api_url("lonewolf"), concurrency=8
    ) as client:
        ids = [r["id"] async for r in client.paginate("/items", PageNumber(page_size=10))]
    assert ids == list(range(sandbox.dataset_size))
    assert sandbox.dataset_size == 1000
    assert pool_retries == []


@pytest.mark.anyio
async def test_cancelled_requests_leave_the_pool_gate_open(sandbox: VendorSandbox) -> None:
    """One connection, eight slow requests: the second waits in the pool holding the gate,
    the others wait at the gate. All cancelled, the next request still goes through."""
    sandbox.set_faults(path=API, latency_ms=300)
    async with AsyncVendorClient(
        provider_for(sandbox),
        base_url=sandbox.api_url("lonewolf"),
        limits=httpx.Limits(max_connections=1),
    ) as client:
        await client.get_json("/items")  # token fetched, connection open
        tasks = [asyncio.ensure_future(client.get_json("/items")) for _ in range(8)]
        for _ in range(50):  # every task reaches the pool or the gate
            await asyncio.sleep(0)
        held = client._gate.busy
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert held
        assert not client._gate.busy
        sandbox.set_faults(path=API, latency_ms=0)
        # a gate left shut would hang here: the guard turns that into a failure
        body = await asyncio.wait_for(client.get_json("/items"), timeout=30)
    assert body["items"]


class HeldFirstToken:
    """A token source (the sandbox's real provider) whose first ``aget_token`` waits
    until released: a token refresh in flight."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider
        self.vendor = provider.vendor
        self.invalid_token_statuses = provider.invalid_token_statuses
        self.release = asyncio.Event()
        self.holding = False

    def get_token(self) -> Token:
        return self.provider.get_token()

    async def aget_token(self) -> Token:
        if not self.holding and not self.release.is_set():
            self.holding = True
            await self.release.wait()
        return await self.provider.aget_token()

    def invalidate(self, token: Token) -> bool:
        return bool(self.provider.invalidate(token))

    async def ainvalidate(self, token: Token) -> bool:
        return bool(await self.provider.ainvalidate(token))


@pytest.mark.anyio
async def test_a_token_refresh_in_flight_does_not_hold_up_other_requests(
    sandbox: VendorSandbox,
) -> None:
    """The gate is taken once the token is attached: while one request waits for its
    token, the next one is sent and answered."""
    source = HeldFirstToken(provider_for(sandbox))
    source.get_token()  # cached: only the held call waits
    async with AsyncVendorClient(source, base_url=sandbox.api_url("lonewolf")) as client:
        first = asyncio.ensure_future(client.get_json("/items"))
        for _ in range(10):
            await asyncio.sleep(0)
        assert source.holding
        second = asyncio.ensure_future(client.get_json("/items"))
        # a guard against a hang, not a timing assertion: ``second`` needs no wait
        done, _ = await asyncio.wait({second}, timeout=30)
        assert second in done
        assert not first.done()
        source.release.set()
        assert (await first)["items"] == (await second)["items"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a stalled TLS
    handshake, for an https URL)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@pytest.mark.anyio
async def test_a_request_opening_a_connection_does_not_hold_up_the_next(
    sandbox: VendorSandbox, silent_server: int
) -> None:
    """A request stuck opening its connection (a TLS handshake that never ends) does not
    keep the client's next request, to another host, out of the pool."""
    async with AsyncVendorClient(
        provider_for(sandbox),
        base_url=sandbox.api_url("lonewolf"),
        retry=RetryPolicy.none(),
    ) as client:
        stuck = asyncio.ensure_future(client.get_json(f"https://127.0.0.1:{silent_server}/x"))
        for _ in range(20):
            await asyncio.sleep(0)
        second = asyncio.ensure_future(client.get_json("/items"))
        # a guard against a hang, not a timing assertion: ``second`` needs no wait
        done, _ = await asyncio.wait({second}, timeout=30)
        assert second in done
        assert (await second)["items"]
        assert not stuck.done()  # still in its handshake: it never held up ``second``
        stuck.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stuck


@pytest.mark.anyio
async def test_gate_lets_waiters_in_one_at_a_time_in_arrival_order() -> None:
    gate = PoolGate()
    order: list[int] = []

    async def request(n: int) -> None:
        await gate.enter()
        order.append(n)

    assert gate.enter_now()
    tasks = [asyncio.ensure_future(request(n)) for n in range(4)]
    await asyncio.sleep(0)
    assert order == []
    for expected in ([0], [0, 1], [0, 1, 2], [0, 1, 2, 3]):
        gate.leave()
        for _ in range(3):
            await asyncio.sleep(0)
        assert order == expected
        assert gate.busy
    gate.leave()
    assert not gate.busy
    await asyncio.gather(*tasks)


@pytest.mark.anyio
async def test_a_waiter_cancelled_at_the_gate_is_skipped() -> None:
    gate = PoolGate()
    assert gate.enter_now()
    first = asyncio.ensure_future(gate.enter())
    second = asyncio.ensure_future(gate.enter())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    gate.leave()  # the holder leaves: the cancelled waiter is passed over
    await second
    assert first.cancelled()
    assert gate.busy
    gate.leave()
    assert not gate.busy


@pytest.mark.anyio
async def test_a_waiter_cancelled_once_let_in_lets_the_next_in() -> None:
    gate = PoolGate()
    assert gate.enter_now()
    first = asyncio.ensure_future(gate.enter())
    second = asyncio.ensure_future(gate.enter())
    await asyncio.sleep(0)
    gate.leave()  # hands the gate to ``first``...
    first.cancel()  # ...which is cancelled before it runs: ``second`` must get it
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, timeout=5)
    assert gate.busy
    gate.leave()
    assert not gate.busy


@pytest.mark.anyio
async def test_a_transport_of_the_callers_is_not_gated(sandbox: VendorSandbox) -> None:
    """A transport that never reports taking a connection (here an ASGI-like handler
    that answers once two requests are in) still gets requests at the same time."""
    inside: list[httpx.Request] = []
    both_in = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        inside.append(request)
        if len(inside) == 2:
            both_in.set()
        await both_in.wait()
        return httpx.Response(200, json={"items": [1]})

    async with AsyncVendorClient(
        provider_for(sandbox),
        base_url="http://127.0.0.1:9/api",
        transport=httpx.MockTransport(handler),
    ) as client:
        # a guard against a hang, not a timing assertion: both requests are in at once
        got = await asyncio.wait_for(
            asyncio.gather(client.get_json("/items"), client.get_json("/items")), timeout=30
        )
    assert got == [{"items": [1]}, {"items": [1]}]
