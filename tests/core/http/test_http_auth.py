"""VendorAuth: the bearer token, one retry with a fresh token, 401 vs 403 told apart."""

from __future__ import annotations

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import AuthenticationError, PermissionDeniedError
from vendorgate.http import VendorAuth


def _request() -> httpx.Request:
    return httpx.Request("GET", "https://api.example.com/items?page=1")


def _reply(request: httpx.Request, status: int, body: bytes = b"{}") -> httpx.Response:
    return httpx.Response(status, request=request, content=body, headers={"x-request-id": "r-1"})


def test_attaches_the_cached_token_as_bearer() -> None:
    """Every request carries Authorization: Bearer <cached token>."""
    source = FakeSource()
    flow = VendorAuth(source).sync_auth_flow(_request())
    sent = next(flow)
    assert sent.headers["Authorization"] == f"Bearer {source.current.access_token}"  # type: ignore[union-attr]
    with pytest.raises(StopIteration):
        flow.send(_reply(sent, 200))


def test_refused_token_is_invalidated_and_replaced_once() -> None:
    """A 401 drops exactly the token sent and retries once with a fresh one."""
    source = FakeSource()
    flow = VendorAuth(source).sync_auth_flow(_request())
    first = next(flow)
    first_token = first.headers["Authorization"]
    second = flow.send(_reply(first, 401))
    assert [f"Bearer {t.access_token}" for t in source.invalidated] == [first_token]
    assert second.headers["Authorization"] != first_token
    with pytest.raises(StopIteration):
        flow.send(_reply(second, 200))
    assert source.issued == 2


def test_second_401_is_an_authentication_error_without_the_token() -> None:
    """Two refusals in a row say the credentials are wrong, never showing the token."""
    source = FakeSource()
    flow = VendorAuth(source).sync_auth_flow(_request())
    req = next(flow)
    req = flow.send(_reply(req, 401))
    token = source.current.access_token  # type: ignore[union-attr]
    body = f'{{"error":"invalid_token","echo":"Bearer {token}"}}'.encode()
    with pytest.raises(AuthenticationError) as info:
        flow.send(_reply(req, 401, body))
    err = info.value
    assert err.status == 401
    assert err.vendor == "fake"
    assert err.request_id == "r-1"
    assert err.url == "https://api.example.com/items"
    assert "credentials" in str(err)
    for text in (str(err), repr(err), err.body_excerpt or ""):
        assert token not in text
    assert "invalid_token" in (err.body_excerpt or "")


def test_second_403_is_a_permission_error_when_403_means_expired() -> None:
    """For a vendor whose 403 means "token no longer good" (Lone Wolf), a repeat 403 is
    a PermissionDeniedError."""
    source = FakeSource(invalid=frozenset({401, 403}))
    flow = VendorAuth(source).sync_auth_flow(_request())
    req = next(flow)
    req = flow.send(_reply(req, 403))
    with pytest.raises(PermissionDeniedError) as info:
        flow.send(_reply(req, 403))
    assert info.value.status == 403
    assert "permissions" in str(info.value)


def test_status_outside_invalid_statuses_is_passed_through() -> None:
    """A 403 that is not a token refusal for this vendor is not retried by the auth."""
    source = FakeSource(invalid=frozenset({401}))
    flow = VendorAuth(source).sync_auth_flow(_request())
    req = next(flow)
    with pytest.raises(StopIteration):
        flow.send(_reply(req, 403))
    assert source.invalidated == []


@pytest.mark.anyio
async def test_async_flow_replaces_a_refused_token_once() -> None:
    """The async flow awaits the source and retries once with a fresh token."""
    source = FakeSource()
    flow = VendorAuth(source).async_auth_flow(_request())
    first = await flow.__anext__()
    second = await flow.asend(_reply(first, 401))
    assert second.headers["Authorization"] == "Bearer s3cr3t-token-2"
    with pytest.raises(StopAsyncIteration):
        await flow.asend(_reply(second, 200))
    assert len(source.invalidated) == 1


@pytest.mark.anyio
async def test_async_second_refusal_raises() -> None:
    """The async flow raises AuthenticationError on a second 401."""
    source = FakeSource()
    flow = VendorAuth(source).async_auth_flow(_request())
    req = await flow.__anext__()
    req = await flow.asend(_reply(req, 401))
    with pytest.raises(AuthenticationError):
        await flow.asend(_reply(req, 401))
