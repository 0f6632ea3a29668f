"""Helpers for the token engine tests: a capturing mock token endpoint and RSA keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from vendorgate.http import retry_testing


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """Retries run without waiting in tests."""
    with retry_testing(attempts=3):
        yield


@pytest.fixture(autouse=True)
def _fresh_jwks_cache() -> None:
    from vendorgate.tokens import clear_jwks_cache

    clear_jwks_cache()


@dataclass
class Endpoint:
    """A fake token endpoint answering ``replies`` in turn and recording requests."""

    replies: list[httpx.Response] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    default: Callable[[httpx.Request], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.replies:
            return self.replies.pop(0)
        if self.default is not None:
            return self.default(request)
        return httpx.Response(
            200, json={"access_token": "at-1", "expires_in": 3600, "token_type": "Bearer"}
        )

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)


@pytest.fixture
def endpoint() -> Endpoint:
    return Endpoint()


@pytest.fixture(scope="session")
def rsa_private_pem() -> str:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
