"""A long-running worker sees a secret rotated in a real OpenBao once the resolver's TTL ends."""

from __future__ import annotations

import time
import uuid

import pytest

from vendorgate.secrets import SecretResolver
from vendorgate.testing import OpenBaoServer

pytestmark = pytest.mark.slow


class FrozenClock:
    """``time.monotonic`` that moves only when the test says so."""

    def __init__(self) -> None:
        # far below the real clock, so a reader of the real one fails here, on any machine
        self.now = time.monotonic() - 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(time, "monotonic", frozen)
    return frozen


def _rotate(bao: OpenBaoServer, path: str, value: str) -> None:
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=path, secret={"client_secret": value}, mount_point="secret"
    )


def test_rotated_secret_is_read_again_after_the_ttl(
    openbao: OpenBaoServer, clock: FrozenClock
) -> None:
    """Within ttl_s the cached value is used; after it, the rotated value is read."""
    path = f"vg/rotation/{uuid.uuid4().hex[:10]}"
    ref = f"vault:secret/{path}#client_secret"
    _rotate(openbao, path, "before-rotation")
    resolver = SecretResolver(openbao.settings(), ttl_s=60)
    assert resolver.resolve(ref, field="client_secret").reveal() == "before-rotation"

    _rotate(openbao, path, "after-rotation")
    clock.now += 59.0
    assert resolver.resolve(ref, field="client_secret").reveal() == "before-rotation"
    clock.now += 2.0
    assert resolver.resolve(ref, field="client_secret").reveal() == "after-rotation"


def test_rotated_secret_stays_fresh_for_a_new_ttl(
    openbao: OpenBaoServer, clock: FrozenClock
) -> None:
    """Each re-read starts a new TTL: a second rotation is seen one TTL after the first read."""
    path = f"vg/rotation/{uuid.uuid4().hex[:10]}"
    ref = f"vault:secret/{path}#client_secret"
    resolver = SecretResolver(openbao.settings(), ttl_s=10)
    for generation in range(3):
        _rotate(openbao, path, f"generation-{generation}")
        clock.now += 10.5
        assert resolver.resolve(ref, field="client_secret").reveal() == f"generation-{generation}"
