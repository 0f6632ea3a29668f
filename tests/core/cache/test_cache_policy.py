"""Proactive refresh: ratio, minimum margin, jitter bounds, clock skew."""

from __future__ import annotations

import random

import pytest

from vendorgate import ConfigurationError
from vendorgate.cache import RefreshPolicy
from vendorgate.tokens import Token


def _token(lifetime_s: float) -> Token:
    return Token("x", expires_at=1000.0 + lifetime_s, issued_at=1000.0)


def test_long_token_is_replaced_after_ratio_of_lifetime() -> None:
    """A 24 h Lone Wolf token is replaced after 90 % of its life, as the vendor advises."""
    policy = RefreshPolicy(jitter_ratio=0.0)
    token = _token(86400)
    assert policy.refresh_at(token) == pytest.approx(1000.0 + 0.9 * 86400)


def test_min_margin_wins_when_ratio_leaves_too_little() -> None:
    """A 100 s token is replaced when less than min_margin + skew would be left."""
    policy = RefreshPolicy(jitter_ratio=0.0, min_margin_s=30.0, clock_skew_s=5.0)
    assert policy.refresh_at(_token(100)) == pytest.approx(1100.0 - 35.0)


def test_min_margin_is_bounded_by_half_the_lifetime() -> None:
    """A very short token is still used for at least the ratio's share or half its life."""
    policy = RefreshPolicy(jitter_ratio=0.0, min_margin_s=30.0)
    assert policy.refresh_at(_token(10)) == pytest.approx(1005.0)


def test_small_min_margin_gives_ratio_refresh_for_short_tokens() -> None:
    """With min_margin_s=0 and no skew a 10 s token lives 9 s (the physical limit)."""
    policy = RefreshPolicy(jitter_ratio=0.0, min_margin_s=0.0, clock_skew_s=0.0)
    assert policy.refresh_at(_token(10)) == pytest.approx(1009.0)


@pytest.mark.parametrize("lifetime_s", [10.0, 600.0, 10800.0, 2628288.0])
def test_jitter_only_moves_refresh_earlier_within_bounds(lifetime_s: float) -> None:
    """Jitter spreads refreshes over at most jitter_ratio*L (<= max_jitter_s), always earlier."""
    policy = RefreshPolicy(jitter_ratio=0.02, max_jitter_s=60.0)
    token = _token(lifetime_s)
    base = token.expires_at - policy.margin_s(token)
    bound = min(0.02 * lifetime_s, 60.0)
    rng = random.Random(7)
    draws = [policy.refresh_at(token, rng) for _ in range(2000)]
    assert all(base - bound <= d <= base for d in draws)
    # The spread really uses the interval (not a constant).
    assert max(draws) - min(draws) > 0.8 * bound


def test_zero_jitter_is_deterministic() -> None:
    """jitter_ratio=0 gives one refresh moment for every worker."""
    policy = RefreshPolicy(jitter_ratio=0.0)
    token = _token(600)
    assert len({policy.refresh_at(token, random.Random(i)) for i in range(20)}) == 1


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("refresh_ratio", {"refresh_ratio": 0.0}),
        ("refresh_ratio", {"refresh_ratio": 1.5}),
        ("min_margin_s", {"min_margin_s": -1}),
        ("jitter_ratio", {"jitter_ratio": 0.6}),
        ("clock_skew_s", {"clock_skew_s": -2}),
    ],
)
def test_bad_knob_names_the_field(field: str, kwargs: dict[str, float]) -> None:
    """A knob out of range raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError) as info:
        RefreshPolicy(**kwargs)
    assert info.value.field == field


def test_usable_until_keeps_half_the_margin_or_the_skew() -> None:
    """A due token is served during a refresh only while half its margin (or the skew) is left."""
    assert RefreshPolicy(clock_skew_s=0.0).usable_until(_token(10)) == pytest.approx(1009.5)
    assert RefreshPolicy(clock_skew_s=5.0).usable_until(_token(10)) == pytest.approx(1005.0)
