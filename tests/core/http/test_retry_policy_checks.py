"""RetryPolicy's knobs: what each accepts, how it is stored, and the error a bad one gives.

A policy usually comes from a config file (lists, lower-case method names, a single
string): it must be normalised the same way every time, and a mistake must name the
field and say what is accepted.
"""

from __future__ import annotations

import pytest

from vendorgate import ConfigurationError
from vendorgate._retry import RetryPolicy

STATUSES = "must be HTTP statuses (100-599)"
METHODS = "must be HTTP method names, e.g. {'GET', 'POST'}"
SECONDS = "must be a finite number of seconds > 0"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"attempts": 0}, "attempts", "must be an integer >= 1"),
        ({"attempts": 2.0}, "attempts", "must be an integer >= 1"),
        ({"max_body_bytes": 0}, "max_body_bytes", "must be an integer >= 1"),
        ({"max_body_bytes": True}, "max_body_bytes", "must be an integer >= 1"),
        ({"timeout_s": 0}, "timeout_s", SECONDS),
        ({"timeout_s": -1}, "timeout_s", SECONDS),
        ({"wait_initial_s": 0}, "wait_initial_s", SECONDS),
        ({"wait_max_s": 0}, "wait_max_s", SECONDS),
        ({"wait_jitter_s": -0.5}, "wait_jitter_s", "must be a finite number of seconds >= 0"),
        ({"retry_statuses": frozenset({99})}, "retry_statuses", STATUSES),
        ({"retry_statuses": frozenset({600})}, "retry_statuses", STATUSES),
        ({"retry_statuses": [503, "500"]}, "retry_statuses", STATUSES),
        ({"retry_statuses": [False]}, "retry_statuses", STATUSES),
        ({"retry_statuses": 503}, "retry_statuses", STATUSES),
        ({"retry_statuses": None}, "retry_statuses", STATUSES),
        ({"retry_methods": 5}, "retry_methods", METHODS),
        ({"retry_methods": None}, "retry_methods", METHODS),
        ({"retry_methods": ["GET", " "]}, "retry_methods", "must be a non-empty string"),
        ({"retry_methods": ["GET", 1]}, "retry_methods", "must be a non-empty string"),
    ],
)
def test_a_bad_knob_is_refused_naming_it(
    kwargs: dict[str, object], field: str, message: str
) -> None:
    """Each bad value is a ConfigurationError naming the field and what is accepted."""
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).endswith(message), str(info.value)


def test_the_edges_of_each_range_are_accepted() -> None:
    """Statuses 100 and 599, one attempt, a one-byte cap and no jitter are all valid."""
    policy = RetryPolicy(
        attempts=1,
        max_body_bytes=1,
        wait_jitter_s=0,
        retry_statuses=frozenset({100, 599}),
    )
    assert policy.retry_statuses == frozenset({100, 599})
    assert (policy.attempts, policy.max_body_bytes, policy.wait_jitter_s) == (1, 1, 0)


def test_statuses_and_methods_from_a_config_file_are_normalised() -> None:
    """Lists become frozensets and method names are upper-cased, so policies compare equal."""
    policy = RetryPolicy(retry_statuses=[503, 502, 503], retry_methods=["get", "Post"])  # type: ignore[arg-type]
    assert policy.retry_statuses == frozenset({502, 503})
    assert isinstance(policy.retry_statuses, frozenset)
    assert policy.retry_methods == frozenset({"GET", "POST"})
    assert isinstance(policy.retry_methods, frozenset)
    assert policy == RetryPolicy(
        retry_statuses=frozenset({502, 503}), retry_methods=frozenset({"GET", "POST"})
    )
    assert hash(policy) == hash(
        RetryPolicy(retry_statuses=frozenset({502, 503}), retry_methods=frozenset({"GET", "POST"}))
    )


def test_a_single_method_name_is_one_method_not_its_letters() -> None:
    """``retry_methods="post"`` opts POST in; it is not read as the letters P, O, S, T."""
    assert RetryPolicy(retry_methods="post").retry_methods == frozenset({"POST"})  # type: ignore[arg-type]
