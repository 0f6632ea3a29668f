"""A shared cache judges expiry by the vendor's clock, not by the fetching worker's clock."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from vendorgate.cache import FileBackend, TokenCache
from vendorgate.cache._codec import decode_entry, encode_entry
from vendorgate.dialects import get_dialect
from vendorgate.tokens import Token, TokenConfig, TokenProvider

LIFETIME_S = 600
#: The fetching worker's clock runs this far ahead of the vendor's (and of the readers').
WRITER_AHEAD_S = 300


def _lonewolf(sandbox) -> TokenConfig:
    demo = sandbox.demo_credentials("lonewolf")
    return TokenConfig(
        dialect=get_dialect("lonewolf"),
        client_id=demo["client_id"],
        token_url=sandbox.token_url("lonewolf"),
        client_secret=f"literal:{demo['client_secret'].reveal()}",
    )


def _skewed_fetch(sandbox, directory: Path) -> tuple[str, Token, dict[str, float]]:
    """A worker whose clock is ahead of the vendor's fetches a token into a shared directory.

    The sandbox's clock is set behind the host's, and readers get a clock equal to the
    vendor's: relative to them, the fetching worker (the real clock) is ahead.
    """
    sandbox.set_faults(clock_offset_s=-WRITER_AHEAD_S, token_lifetime_s={"lonewolf": LIFETIME_S})
    writer = TokenProvider(_lonewolf(sandbox), cache=TokenCache(FileBackend(directory)))
    token = writer.get_token()
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    return writer.cache_key, token, claims


def _reader(directory: Path, now: list[float]) -> TokenCache:
    def clock() -> float:
        return now[0]

    return TokenCache(FileBackend(directory, clock=clock), clock=clock)


@pytest.mark.slow
def test_correct_worker_refreshes_before_the_vendor_expiry_of_a_skewed_workers_token(
    sandbox, tmp_path: Path
) -> None:
    """A worker with a correct clock never serves a shared token the vendor is about to expire."""
    key, _, claims = _skewed_fetch(sandbox, tmp_path)
    now = [claims["exp"] - 10.0]  # the vendor says 10 s are left
    fetched: list[Token | None] = []

    def fetch(previous: Token | None) -> Token:
        fetched.append(previous)
        return Token("fresh", expires_at=now[0] + LIFETIME_S, issued_at=now[0])

    assert _reader(tmp_path, now).get_or_fetch(key, fetch).access_token == "fresh"
    assert len(fetched) == 1


@pytest.mark.slow
def test_correct_worker_serves_a_skewed_workers_fresh_token(sandbox, tmp_path: Path) -> None:
    """A token the vendor issued a minute ago is served from the shared cache, not refetched."""
    key, token, claims = _skewed_fetch(sandbox, tmp_path)
    now = [claims["iat"] + 60.0]

    def fetch(previous: Token | None) -> Token:
        raise AssertionError("the shared token is fresh")

    served = _reader(tmp_path, now).get_or_fetch(key, fetch)
    assert served.fingerprint == token.fingerprint
    assert served.expires_at == pytest.approx(claims["exp"])


@pytest.mark.slow
def test_the_fetching_worker_keeps_its_own_expiry(sandbox, tmp_path: Path) -> None:
    """The worker that fetched judges its token by its own clock and the stated lifetime."""
    _, token, _ = _skewed_fetch(sandbox, tmp_path)
    assert token.expires_at == pytest.approx(token.issued_at + LIFETIME_S)
    assert token.vendor_issued_at is not None
    assert token.expires_in_s == pytest.approx(LIFETIME_S)


def test_entries_written_before_the_vendor_times_still_read() -> None:
    """A cache entry from an older version (no vendor times) is read and judged as before."""
    now = time.time()
    stored = json.loads(encode_entry(Token("abc", expires_at=now + 60, issued_at=now)))
    for name in ("vendor_issued_at", "expires_in_s"):
        del stored["token"][name]
    token = decode_entry(json.dumps(stored), backend="file")
    assert token is not None
    assert token.expires_at_for(None) == token.expires_at


def test_an_unknown_reader_offset_takes_the_earlier_expiry() -> None:
    """Without its own view of the vendor's clock, a reader takes the earlier of both expiries."""
    token = Token(
        "abc", expires_at=1300.0, issued_at=700.0, vendor_issued_at=400.0, expires_in_s=600.0
    )
    assert token.expires_at_for(None) == 1000.0
    assert token.expires_at_for(300.0) == 1300.0


def test_a_worker_ahead_of_the_vendor_keeps_its_own_and_shared_tokens_their_whole_life() -> None:
    """The fetching worker learns how far its clock is ahead of the vendor's from its own
    fetch, and judges every later token of the key with it (its own, and one another
    worker stored): neither is refreshed early, so no token request is wasted."""
    from vendorgate.cache import MemoryStore, RefreshPolicy

    exact = RefreshPolicy(min_margin_s=0.0, clock_skew_s=0.0, jitter_ratio=0.0)
    start = float(int(time.time()))
    now = [start]
    store = MemoryStore()  # judges what it keeps on the real clock: times near it
    cache = TokenCache(store, clock=lambda: now[0], policy=exact)

    def fetched_here(previous: Token | None) -> Token:  # vendor's clock 300 s behind ours
        return Token(
            f"at-{now[0]}",
            expires_at=now[0] + LIFETIME_S,
            issued_at=now[0],
            vendor_issued_at=now[0] - WRITER_AHEAD_S,
            expires_in_s=LIFETIME_S,
        )

    own = cache.get_or_fetch("k", fetched_here)
    now[0] += 400  # past the vendor-clock expiry read as ours, before the real one
    assert cache.get_or_fetch("k", fetched_here) is own
    # another worker stored a token it fetched at our start + 100 (vendor: start - 200)
    cache.clear()
    store.set(
        "k",
        Token(
            "at-other",
            expires_at=start + 100 + LIFETIME_S,
            issued_at=start + 100,
            vendor_issued_at=start - 200,
            expires_in_s=LIFETIME_S,
        ),
    )
    now[0] = start + 100 + 350  # past its vendor-clock expiry read as ours
    assert cache.get_or_fetch("k", fetched_here).access_token == "at-other"
