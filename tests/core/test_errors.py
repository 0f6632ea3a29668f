"""One error hierarchy: users can catch broadly or precisely."""

from __future__ import annotations

import pytest

from vendorgate import _errors as e


def test_every_error_derives_from_vendorgate_error() -> None:
    """`except VendorgateError` catches everything the package raises."""
    for name in e.__all__:
        obj = getattr(e, name)
        if isinstance(obj, type):
            assert issubclass(obj, e.VendorgateError), name


def test_configuration_error_names_the_field() -> None:
    """A configuration error says which field is wrong."""
    err = e.ConfigurationError("must not be empty", field="client_id")
    assert err.field == "client_id"
    assert str(err).startswith("client_id:")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, e.AuthenticationError),
        (403, e.PermissionDeniedError),
        (429, e.RateLimitError),
        (500, e.ServerError),
        (503, e.ServerError),
        (404, e.APIError),
        (None, e.APITransportError),
    ],
)
def test_status_maps_to_one_class(status: int | None, cls: type[e.APIError]) -> None:
    """Statuses map to error classes in one place."""
    assert e.api_error_for_status(status) is cls


def test_api_error_carries_context() -> None:
    """An API error carries status, vendor, request id and a body excerpt."""
    err = e.ServerError("boom", status=503, vendor="lonewolf", request_id="r-1", body_excerpt="x")
    assert (err.status, err.vendor, err.request_id, err.body_excerpt) == (
        503,
        "lonewolf",
        "r-1",
        "x",
    )
