"""The prefect-secret: reference scheme reads a value from a Prefect Secret block."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from _prefect_helpers import make_api
from prefect.blocks.system import Secret

from vendorgate import SecretError
from vendorgate.secrets import SecretResolver

if TYPE_CHECKING:
    from vendorgate.testing import VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def test_credentials_read_the_client_secret_from_a_secret_block(
    prefect_harness: None, sandbox: VendorSandbox
) -> None:
    """A client secret kept in a Prefect Secret block gets a token from the vendor."""
    name = f"client-secret-{uuid.uuid4().hex[:8]}"
    secret = sandbox.demo_credentials("oauth2-basic")["client_secret"].reveal()
    Secret(value=secret).save(name)
    api = make_api(sandbox, token_cache="memory")
    api.credentials.client_secret = None
    api.credentials.client_secret_ref = f"prefect-secret:{name}"

    with api.get_client() as client:
        assert client.get("/items").status_code == 200


def test_a_key_of_an_object_secret_block(prefect_harness: None) -> None:
    """prefect-secret:NAME#key reads one key of a Secret block holding an object."""
    name = f"vendor-secrets-{uuid.uuid4().hex[:8]}"
    Secret(value={"client_secret": "abc123"}).save(name)

    value = SecretResolver().resolve(f"prefect-secret:{name}#client_secret", field="x")

    assert value.reveal() == "abc123"


def test_a_missing_secret_block_names_the_field(prefect_harness: None) -> None:
    """A reference to a Secret block that does not exist fails naming the field."""
    with pytest.raises(SecretError) as info:
        SecretResolver().resolve("prefect-secret:no-such-block", field="client_secret")
    assert "client_secret" in str(info.value)
    assert "no-such-block" in str(info.value)
