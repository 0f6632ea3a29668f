"""VendorConnection: one serialisable spec builds providers and clients for every preset."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vendorgate import (
    ConfigurationError,
    RateLimit,
    RetryPolicy,
    TokenConfig,
    UnknownPresetError,
    VendorConnection,
    get_dialect,
)
from vendorgate.cache import TokenCache, default_cache
from vendorgate.dialects import list_dialects
from vendorgate.http import (
    CursorInBody,
    Custom,
    LinkHeader,
    NextUrlInBody,
    OffsetLimit,
    PageNumber,
    paginator_from_mapping,
)

PRESETS = [d.name for d in list_dialects(include_custom=False)]


def token_mapping(preset: str) -> dict[str, Any]:
    """A valid token table for ``preset`` (references only)."""
    d = get_dialect(preset)
    out: dict[str, Any] = {"preset": preset, "client_id": "client-1"}
    if d.token_url is None:
        out["token_url"] = "https://id.example.com/oauth/token"
    if d.client_auth == "assertion":
        out["private_key"] = "file:/run/secrets/key.pem"
    else:
        out["client_secret"] = "vault:secret/vendors/x#client_secret"
    if d.grant_type == "password":
        out["username"] = "env:VENDOR_USER"
        out["password"] = "env:VENDOR_PASSWORD"
    for name in d.required_fields:  # TechWolf's tenant
        out[name] = f"{name}-1"
    return out


def full_mapping(preset: str, tmp_path: Any) -> dict[str, Any]:
    return {
        "token": {**token_mapping(preset), "scopes": ["read", "write"]},
        "base_url": "https://api.example.com/v1",
        "cache": {"backend": "file", "directory": str(tmp_path / "cache")},
        "retry": {"attempts": 3, "retry_methods": ["GET", "POST"]},
        "rate_limit": {"requests_per_s": 5, "max_concurrency": 2},
        "headers": {"Accept": "application/json"},
        "timeout_s": 12.5,
    }


@pytest.mark.parametrize("preset", PRESETS)
def test_mapping_round_trip_is_equal_for_every_preset(preset: str, tmp_path: Any) -> None:
    """from_mapping(to_mapping(spec)) == spec, so a trigger or block rebuilds the same spec."""
    spec = VendorConnection.from_mapping(full_mapping(preset, tmp_path))
    data = spec.to_mapping()
    assert json.loads(json.dumps(data)) == data
    assert VendorConnection.from_mapping(data) == spec
    assert VendorConnection.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("preset", PRESETS)
def test_minimal_spec_round_trips_to_a_token_table_only(preset: str) -> None:
    """A spec of defaults writes only its token table."""
    spec = VendorConnection(TokenConfig.from_mapping(token_mapping(preset)))
    assert spec.to_mapping() == {"token": token_mapping(preset)}
    assert VendorConnection.from_mapping(spec.to_mapping()) == spec


def test_spec_pickles_and_copies(tmp_path: Any) -> None:
    """A spec crosses process boundaries (multiprocessing, result stores) unchanged."""
    import copy
    import pickle

    spec = VendorConnection.from_mapping(full_mapping("lonewolf", tmp_path))
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert copy.deepcopy(spec) == spec


def test_spec_is_frozen() -> None:
    """A spec cannot be changed after it was validated; with_overrides validates again."""
    spec = VendorConnection.from_mapping({"token": token_mapping("lonewolf")})
    with pytest.raises(AttributeError):
        spec.base_url = "https://x.example.com"  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="base_url"):
        spec.with_overrides(base_url="ftp://x")


LW = {"preset": "lonewolf", "client_id": "c", "client_secret": "env:LW_SECRET"}


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"token": LW, "tokn": {}}, "tokn", "valid settings: token"),
        ({"token": None}, "token", "is required"),
        ({"token": {"client_id": "x"}}, "token.preset", "name a preset"),
        ({"token": {**LW, "preset": "nope"}}, "token.preset", "valid presets"),
        ({"token": {**LW, "client_id": 5}}, "token.client_id", "must be a string"),
        ({"token": {**LW, "colour": "red"}}, "token.colour", "valid settings"),
        ({"token": LW, "base_url": "api.example.com"}, "base_url", "http(s) URL"),
        (
            {"token": LW, "cache": {"backend": "memcached"}},
            "cache.backend",
            "accepted: file, memory, ",
        ),
        ({"token": LW, "cache": {"backend": "redis", "host": "x"}}, "cache.host", "url"),
        ({"token": LW, "cache": {"backend": "redis", "url": "http://x"}}, "cache.url", "redis:"),
        ({"token": LW, "cache": "redis"}, "cache", "must be a table"),
        ({"token": LW, "retry": {"attempts": "3"}}, "retry.attempts", "must be an integer"),
        ({"token": LW, "retry": {"attempts": 0}}, "retry.attempts", ">= 1"),
        ({"token": LW, "retry": {"retry_statuses": "5"}}, "retry.retry_statuses", "list of"),
        ({"token": LW, "rate_limit": {"requests_per_s": "x"}}, "rate_limit.requests_per_s", "a"),
        ({"token": LW, "rate_limit": {"burst": 3}}, "rate_limit.burst", "valid settings"),
        ({"token": LW, "headers": ["Accept"]}, "headers", "name = value"),
        ({"token": LW, "headers": {"Authorization": "x"}}, "headers.Authorization", "provider"),
        ({"token": LW, "timeout_s": "30"}, "timeout_s", "positive number"),
        ({"token": LW, "timeout_s": 0}, "timeout_s", "positive number"),
    ],
)
def test_bad_mapping_names_the_field(data: dict[str, Any], field: str, hint: str) -> None:
    """A malformed spec fails at construction with the field and what is accepted."""
    with pytest.raises(ConfigurationError) as info:
        VendorConnection.from_mapping(data)
    assert info.value.field == field
    assert hint in str(info.value)


def test_unknown_preset_keeps_its_error_class() -> None:
    """`except UnknownPresetError` still works for a spec's token table."""
    with pytest.raises(UnknownPresetError):
        VendorConnection.from_mapping({"token": {"preset": "nope", "client_id": "x"}})


def test_secret_pasted_where_a_reference_belongs_is_not_echoed() -> None:
    """A client secret pasted into the spec is refused without printing it."""
    data = {"token": {**token_mapping("lonewolf"), "client_secret": "hunter2-very-secret"}}
    with pytest.raises(ConfigurationError) as info:
        VendorConnection.from_mapping(data)
    assert info.value.field == "token.client_secret"
    assert "env:<VARIABLE>" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_repr_hides_cache_options_and_header_values() -> None:
    """A URL with a password in the cache options never reaches logs through repr."""
    spec = VendorConnection.from_mapping(
        {
            "token": token_mapping("lonewolf"),
            "cache": {"backend": "redis", "url": "redis://:pa55word@127.0.0.1:6379/0"},
            "headers": {"X-Tenant": "tenant-secretish"},
        }
    )
    assert "pa55word" not in repr(spec)
    assert "tenant-secretish" not in repr(spec)
    assert "redis" in repr(spec)


def test_equal_cache_options_share_one_token_cache(tmp_path: Any) -> None:
    """Two specs with the same cache options (any key order) use one TokenCache."""
    directory = str(tmp_path / "shared")
    a = VendorConnection.from_mapping(
        {"token": token_mapping("lonewolf"), "cache": {"backend": "file", "directory": directory}}
    )
    b = VendorConnection.from_mapping(
        {"token": token_mapping("wokelo"), "cache": {"directory": directory, "backend": "file"}}
    )
    assert a.token_cache() is b.token_cache()
    assert a.provider().cache is b.provider().cache


def test_different_cache_options_get_different_caches(tmp_path: Any) -> None:
    """Specs pointing at different shared levels do not share a cache."""
    a = VendorConnection.from_mapping(
        {"token": token_mapping("lonewolf"), "cache": {"backend": "file", "directory": "/tmp/a"}}
    )
    b = VendorConnection.from_mapping(
        {"token": token_mapping("lonewolf"), "cache": {"backend": "file", "directory": "/tmp/b"}}
    )
    assert a.token_cache() is not b.token_cache()


@pytest.mark.parametrize("options", [None, {}, {"backend": "memory"}])
def test_memory_options_use_the_process_cache(options: dict[str, Any] | None) -> None:
    """No cache options (or plain memory) means the process-wide memory cache."""
    data: dict[str, Any] = {"token": token_mapping("lonewolf")}
    if options is not None:
        data["cache"] = options
    spec = VendorConnection.from_mapping(data)
    assert spec.cache is None
    assert spec.token_cache() is default_cache()
    assert isinstance(spec.provider().cache, TokenCache)


def test_client_carries_the_spec_settings() -> None:
    """client() applies base URL, retry, rate limit, headers and timeout of the spec."""
    spec = VendorConnection(
        TokenConfig.from_mapping(token_mapping("lonewolf")),
        base_url="https://api.example.com/v1",
        retry=RetryPolicy(attempts=2),
        rate_limit=RateLimit(requests_per_s=3),
        headers={"Accept": "application/json"},  # type: ignore[arg-type]
        timeout_s=7,
    )
    with spec.client() as client:
        assert client.retry_policy == RetryPolicy(attempts=2)
        assert client.rate_limit == RateLimit(requests_per_s=3)
        assert str(client.http.base_url) == "https://api.example.com/v1/"
        assert client.http.headers["accept"] == "application/json"
        assert client.http.timeout.read == 7
        assert client.http.timeout.connect == 7
        assert client.vendor == "lonewolf"


def test_async_client_carries_the_spec_settings() -> None:
    """async_client() is the twin of client(): same base URL, retry, headers, timeout."""
    import asyncio

    spec = VendorConnection(
        TokenConfig.from_mapping(token_mapping("lonewolf")),
        base_url="https://api.example.com/v1",
        retry=RetryPolicy(attempts=2),
        headers={"Accept": "application/json"},  # type: ignore[arg-type]
        timeout_s=7,
    )

    async def check() -> None:
        async with spec.async_client() as client:
            assert client.retry_policy == RetryPolicy(attempts=2)
            assert str(client.http.base_url) == "https://api.example.com/v1/"
            assert client.http.headers["accept"] == "application/json"
            assert client.http.timeout.read == 7

    asyncio.run(check())


def test_client_overrides_replace_spec_settings() -> None:
    """Keyword overrides of client() win over the spec (a test transport, a source)."""
    import httpx

    spec = VendorConnection(TokenConfig.from_mapping(token_mapping("lonewolf")))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    with spec.client(source=None, base_url="https://x.example.com", transport=transport) as c:
        assert c.source is None
        assert c.get_json("/ping") == {"ok": True}


def test_to_mapping_of_a_custom_paginator_is_an_error() -> None:
    """A paginator holding code has no plain form: an error, not a silent drop."""
    with pytest.raises(ConfigurationError, match="paginator"):
        Custom(lambda *a: None).to_mapping()


@pytest.mark.parametrize(
    "paginator",
    [
        PageNumber(),
        PageNumber(page_size=50, size_param=None, records_path=None),
        OffsetLimit(limit=10, total_path=None),
        CursorInBody(cursor_param="after", limit=None),
        NextUrlInBody(next_path="links.next", allow_cross_origin=True),
        LinkHeader(rel="next", records_path="data"),
    ],
)
def test_paginator_round_trips_through_its_mapping(paginator: Any) -> None:
    """paginator_from_mapping(p.to_mapping()) == p, so a paging strategy travels as JSON."""
    data = paginator.to_mapping()
    assert json.loads(json.dumps(data)) == data
    assert paginator_from_mapping(data) == paginator


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "pages"}, "paginator.type"),
        ({"page_size": 5}, "paginator.type"),
        ({"type": "page_number", "size": 5}, "paginator.size"),
        ({"type": "page_number", "page_size": "5"}, "paginator.page_size"),
        ({"type": "page_number", "page_size": 0}, "paginator.page_size"),
    ],
)
def test_bad_paginator_mapping_names_the_field(data: dict[str, Any], field: str) -> None:
    """A malformed paginator table fails with the field named."""
    with pytest.raises(ConfigurationError) as info:
        paginator_from_mapping(data)
    assert info.value.field == field


def test_retry_policy_and_rate_limit_round_trip() -> None:
    """RetryPolicy and RateLimit have a plain form of their non-default settings."""
    policy = RetryPolicy(attempts=2, retry_statuses=frozenset({500, 503}))
    assert policy.to_mapping() == {"attempts": 2, "retry_statuses": [500, 503]}
    assert RetryPolicy.from_mapping(policy.to_mapping()) == policy
    limit = RateLimit(requests_per_s=2.5, adaptive=False)
    assert RateLimit.from_mapping(limit.to_mapping()) == limit


@pytest.mark.slow
def test_spec_client_reads_from_the_sandbox(sandbox, tmp_path: Any) -> None:  # type: ignore[no-untyped-def]
    """A spec built from plain JSON fetches one token and pages through the sandbox's API."""
    demo = sandbox.demo_credentials("lonewolf")
    spec = VendorConnection.from_mapping(
        {
            "token": {
                "preset": "lonewolf",
                "client_id": demo["client_id"],
                "client_secret": "literal:" + demo["client_secret"].reveal(),
                "token_url": sandbox.token_url("lonewolf"),
            },
            "base_url": sandbox.api_url("lonewolf"),
            "cache": {"backend": "file", "directory": str(tmp_path / "cache")},
        }
    )
    before = sandbox.counters().tokens("lonewolf")
    with spec.client() as client:
        ids = [r["id"] for r in client.paginate("/items", PageNumber(page_size=97))]
    assert ids == list(range(sandbox.dataset_size))
    assert sandbox.counters().tokens("lonewolf") - before <= 1
