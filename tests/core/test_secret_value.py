"""Secret's small contracts that mutation testing found unpinned."""

from __future__ import annotations

import pytest

from vendorgate import Secret


def test_secret_of_a_secret_keeps_the_value() -> None:
    """Wrapping a Secret again (a config passed through twice) keeps the same value."""
    assert Secret(Secret("inner-value")).reveal() == "inner-value"


def test_non_str_error_names_the_type_given() -> None:
    """Wrapping bytes says bytes were given, so the caller knows what to decode."""
    with pytest.raises(TypeError, match="not bytes"):
        Secret(b"raw")  # type: ignore[arg-type]


def test_secret_is_truthy_only_when_not_empty() -> None:
    """An empty secret is falsy (a missing value), any other value is truthy."""
    assert not Secret("")
    assert Secret("x")
