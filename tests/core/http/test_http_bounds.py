"""Time and size bounds of an API call, odd replies and 500s, against the real sandbox."""

from __future__ import annotations

import pytest
from http_helpers import provider_for

from vendorgate import BadResponseError, ServerError, TransportError
from vendorgate.http import AsyncVendorClient, RetryPolicy, VendorClient

pytestmark = pytest.mark.slow

API = "/lonewolf/api/*"


def _client(sandbox, retry: RetryPolicy) -> VendorClient:  # type: ignore[no-untyped-def]
    return VendorClient(
        provider_for(sandbox, "lonewolf"), base_url=sandbox.api_url("lonewolf"), retry=retry
    )


def test_trickling_api_reply_ends_within_the_budget(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A reply that trickles in past RetryPolicy.timeout_s is a TransportError saying so."""
    provider = provider_for(sandbox, "lonewolf")
    provider.get_token()  # cached first: the budget is the API call's alone on a slow runner
    sandbox.set_faults(path=API, drip_ms=100, drip_bytes=8, huge_body_bytes=2000)
    api = sandbox.api_url("lonewolf")
    with (
        VendorClient(provider, base_url=api, retry=RetryPolicy(timeout_s=0.5)) as client,
        pytest.raises(TransportError, match=r"RetryPolicy\.timeout_s"),
    ):
        client.get_json("/items")


def test_api_body_over_the_cap_is_refused(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A body larger than RetryPolicy.max_body_bytes is a BadResponseError naming the cap."""
    sandbox.set_faults(path=API, huge_body_bytes=300_000)
    with (
        _client(sandbox, RetryPolicy(max_body_bytes=100_000)) as client,
        pytest.raises(BadResponseError, match="max_body_bytes"),
    ):
        client.get_json("/items")


def test_deeply_nested_api_reply_is_a_bad_response(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A deeply nested JSON body is a BadResponseError, not a RecursionError."""
    sandbox.set_faults(path=API, reply_body="[" * 100_000 + "]" * 100_000)
    with (
        _client(sandbox, RetryPolicy.none()) as client,
        pytest.raises(BadResponseError, match="unparseable"),
    ):
        client.get_json("/items")


def test_api_500_is_retried_by_default(sandbox, no_backoff) -> None:  # type: ignore[no-untyped-def]
    """One 500 on a GET is retried by the default policy and the call succeeds."""
    sandbox.set_faults(path=API, status=500, status_burst=1)
    with _client(sandbox, RetryPolicy()) as client:
        assert client.get_json("/items") is not None


def test_api_500_is_described_as_a_server_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A 500 that is not retried says the server failed, not that the request was refused."""
    sandbox.set_faults(path=API, status=500)
    with (
        _client(sandbox, RetryPolicy.none()) as client,
        pytest.raises(ServerError, match="server failed") as info,
    ):
        client.get_json("/items")
    assert "check the path" not in str(info.value)


def _async_client(sandbox, retry: RetryPolicy) -> AsyncVendorClient:  # type: ignore[no-untyped-def]
    return AsyncVendorClient(
        provider_for(sandbox, "lonewolf"), base_url=sandbox.api_url("lonewolf"), retry=retry
    )


@pytest.mark.anyio
async def test_async_trickling_api_reply_ends_within_the_budget(sandbox) -> None:  # type: ignore[no-untyped-def]
    """The async client: a reply trickling in past timeout_s is a TransportError saying so."""
    sandbox.set_faults(path=API, drip_ms=100, drip_bytes=8, huge_body_bytes=2000)
    async with _async_client(sandbox, RetryPolicy(timeout_s=0.5)) as client:
        with pytest.raises(TransportError, match="timeout_s"):
            await client.get_json("/items")


@pytest.mark.anyio
async def test_async_api_body_over_the_cap_is_refused(sandbox) -> None:  # type: ignore[no-untyped-def]
    """The async client: a body over max_body_bytes is a BadResponseError naming the cap."""
    sandbox.set_faults(path=API, huge_body_bytes=300_000)
    async with _async_client(sandbox, RetryPolicy(max_body_bytes=100_000)) as client:
        with pytest.raises(BadResponseError, match="max_body_bytes"):
            await client.get_json("/items")
