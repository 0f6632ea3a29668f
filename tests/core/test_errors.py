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


def test_one_transport_error_for_every_unreachable_server() -> None:
    """`except TransportError` catches an unreachable token endpoint, API or Vault, and
    the narrower clauses users already have keep catching them."""
    assert issubclass(e.TokenTransportError, e.TransportError)
    assert issubclass(e.TokenTransportError, e.TokenRequestError)
    assert issubclass(e.APITransportError, e.TransportError)
    assert issubclass(e.APITransportError, e.APIError)
    assert issubclass(e.VaultTransportError, e.TransportError)
    assert issubclass(e.VaultUnavailableError, e.VaultError)
    assert issubclass(e.VaultTransportError, e.VaultUnavailableError)


@pytest.mark.parametrize("cls", [e.TokenRequestError, e.TokenResponseError, e.APIError])
def test_token_and_api_errors_share_their_attributes(cls: type[e.ReplyDetails]) -> None:
    """Token and API errors carry one set of attributes: status, vendor, URL, request id,
    body excerpt."""
    err = cls("boom", status=503, vendor="v", url="https://x/t", request_id="r", body_excerpt="b")
    assert err.details() == {
        "status": 503,
        "vendor": "v",
        "url": "https://x/t",
        "request_id": "r",
        "body_excerpt": "b",
    }


def test_hierarchy_is_drawn_in_the_module_docstring() -> None:
    """Every public error class appears in the drawing of the hierarchy."""
    for name in e.__all__:
        if isinstance(getattr(e, name), type) and name != "ReplyDetails":
            assert name in (e.__doc__ or ""), name


def test_unreachable_vault_is_a_transport_error() -> None:
    """A Vault that cannot be reached raises VaultTransportError (a TransportError and,
    as before, a VaultUnavailableError)."""
    import socket

    from vendorgate._secret import Secret
    from vendorgate.secrets import SecretResolver, VaultSettings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = VaultSettings(url=f"http://127.0.0.1:{port}", token=Secret("t"), timeout_s=2)
    with pytest.raises(e.TransportError) as info:
        SecretResolver(settings).resolve("vault:secret/a#b", field="client_secret")
    assert isinstance(info.value, e.VaultUnavailableError)
