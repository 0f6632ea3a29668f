"""What ``TokenCache(...)`` accepts and refuses: every refusal names its field and what to
pass instead (the knobs that moved to ``policy=`` and ``timing=``), and the defaults a
caller relies on (refresh tokens shared, the store as its own lock)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cache_helpers import make_token

from vendorgate import ConfigurationError
from vendorgate.cache import (
    CacheTiming,
    FileBackend,
    MemoryLock,
    MemoryStore,
    RefreshPolicy,
    TokenCache,
)
from vendorgate.tokens import Token


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("refresh_ratio", "policy=RefreshPolicy"),
        ("min_margin_s", "policy=RefreshPolicy"),
        ("jitter_ratio", "policy=RefreshPolicy"),
        ("max_jitter_s", "policy=RefreshPolicy"),
        ("clock_skew_s", "policy=RefreshPolicy"),
        ("lock_ttl_s", "timing=CacheTiming"),
        ("lock_wait_s", "timing=CacheTiming"),
        ("backend_retry_s", "timing=CacheTiming"),
        ("refresh_retry_s", "timing=CacheTiming"),
    ],
)
def test_a_knob_given_the_old_way_says_where_it_went(name: str, where: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        TokenCache(**{name: 1})  # type: ignore[arg-type]
    assert refused.value.field == name
    assert str(refused.value) == (
        f"{name}: is no longer an argument of TokenCache; pass {where}({name}=...)"
    )


def test_an_unknown_argument_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError) as refused:
        TokenCache(stroe=MemoryStore())  # type: ignore[call-arg]
    assert str(refused.value) == "TokenCache() got an unexpected keyword argument 'stroe'"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"store": "redis://x"}, "store", "must be a TokenStore (or None), got str"),
        (
            {"store": MemoryStore(), "lock": object()},
            "lock",
            "must be a RefreshLock (or None), got object",
        ),
        (
            {"lock": MemoryLock()},
            "lock",
            "a refresh lock without a shared store shares no token; give store= too",
        ),
        ({"policy": {"refresh_ratio": 0.5}}, "policy", "must be a RefreshPolicy"),
        ({"timing": CacheTiming}, "timing", "must be a CacheTiming"),
    ],
    ids=["store", "lock", "lock-alone", "policy", "timing"],
)
def test_a_wrong_setting_is_refused_naming_its_field(
    kwargs: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        TokenCache(**kwargs)
    assert refused.value.field == field
    assert str(refused.value) == f"{field}: {message}"


def test_a_store_that_is_also_a_lock_serves_as_the_lock(tmp_path: Any) -> None:
    backend = FileBackend(tmp_path / "tokens")
    assert TokenCache(backend).lock is backend
    other = MemoryLock()
    assert TokenCache(backend, other).lock is other
    assert TokenCache(MemoryStore()).lock is None


def test_the_defaults() -> None:
    """Refresh tokens shared, the policy's and timing's own defaults, the real clock."""
    store = MemoryStore()
    cache = TokenCache(store)
    assert cache.store_refresh_tokens is True
    assert cache.degraded is False
    assert cache.policy == RefreshPolicy()
    assert cache.timing == CacheTiming()
    token = Token(
        access_token="at-secretvalue",
        expires_at=time.time() + 600,
        issued_at=time.time(),
        refresh_token="rt-secretvalue",
    )
    cache.get_or_fetch("k", lambda previous: token)
    stored = store.get("k")
    assert stored is not None
    assert stored.refresh_token == "rt-secretvalue"
    # judged on the real clock: a token that expired a second ago is fetched again
    cache.clear()
    gone = make_token(time.time() - 601, 600)
    fresh = cache.get_or_fetch("j", lambda previous: gone)
    assert cache.get_or_fetch("j", lambda previous: make_token(time.time(), 600)) is not fresh
    assert TokenCache(store, store_refresh_tokens=0).store_refresh_tokens is False  # type: ignore[arg-type]
