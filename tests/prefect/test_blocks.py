"""The collection's blocks: Prefect's standard block suite and their translation to the core."""

from __future__ import annotations

import struct
from importlib import resources

import pytest

pytest.importorskip("prefect", reason="needs the 'prefect' extra")

from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr

from vendorgate import ConfigurationError, SecretReferenceError, UnknownPresetError
from vendorgate.prefect import (
    TokenCacheEntry,
    VaultConnection,
    VendorApi,
    VendorCredentials,
)
from vendorgate.prefect._connection import token_config

pytestmark = pytest.mark.prefect

BLOCKS = [VaultConnection, VendorCredentials, VendorApi, TokenCacheEntry]
SECRET = "s3cr3t-value-never-shown"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class _Suite(BlockStandardTestSuite):
    def test_has_a_valid_image(self, block: type[Block]) -> None:
        """The logo URL points at the logo shipped in the package: square, 46-999 px."""
        assert block._logo_url is not None
        assert str(block._logo_url).endswith("src/vendorgate/prefect/logo.png")
        data = resources.files("vendorgate.prefect").joinpath("logo.png").read_bytes()
        width, height = _png_size(data)
        assert width == height
        assert 1000 > width > 45


class TestVaultConnection(_Suite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return VaultConnection


class TestVendorCredentials(_Suite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return VendorCredentials


class TestVendorApi(_Suite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return VendorApi


class TestTokenCacheEntry(_Suite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return TokenCacheEntry


def test_block_type_slugs_are_stable() -> None:
    """Saved block documents keep loading after an upgrade: the slugs never change."""
    assert [b.get_block_type_slug() for b in BLOCKS] == [
        "vendorgate-vault-connection",
        "vendorgate-vendor-credentials",
        "vendorgate-vendor-api",
        "vendorgate-token-cache-entry",
    ]


def test_every_secret_field_is_a_secret_str() -> None:
    """Secrets typed as SecretStr are encrypted and masked by the Prefect server."""
    secret_fields = {
        VaultConnection: {"token", "secret_id", "jwt"},
        VendorCredentials: {"client_secret", "private_key", "password"},
        TokenCacheEntry: {"entry"},
    }
    for block, names in secret_fields.items():
        for name in names:
            assert "SecretStr" in str(block.model_fields[name].annotation), (block, name)


def _credentials(**changes: object) -> VendorCredentials:
    values: dict[str, object] = {
        "preset": "oauth2-basic",
        "client_id": "demo-client",
        "token_url": "https://id.example.com/oauth/token",
        "client_secret": SecretStr(SECRET),
    }
    values.update(changes)
    return VendorCredentials(**values)


def test_unknown_preset_names_the_field_and_lists_presets() -> None:
    """A typo in the preset fails with the block field and the valid names."""
    with pytest.raises(UnknownPresetError) as info:
        token_config(_credentials(preset="oauth3"))
    assert info.value.field == "VendorCredentials.preset"
    assert "oauth2-basic" in str(info.value)
    assert SECRET not in str(info.value)


def test_missing_secret_names_the_field() -> None:
    """Credentials without a secret or key say which field to fill."""
    with pytest.raises(ConfigurationError) as info:
        token_config(_credentials(client_secret=None))
    assert info.value.field == "VendorCredentials.client_secret"


def test_bad_secret_reference_names_the_field_without_its_text() -> None:
    """A secret pasted into a reference field is refused without being echoed."""
    with pytest.raises(SecretReferenceError) as info:
        token_config(_credentials(client_secret=None, client_secret_ref=SECRET))
    assert info.value.field == "VendorCredentials.client_secret_ref"
    assert SECRET not in str(info.value)


def test_value_and_reference_together_are_refused() -> None:
    """A secret given twice (value and reference) is ambiguous and refused."""
    with pytest.raises(ConfigurationError) as info:
        token_config(_credentials(client_secret_ref="env:X"))
    assert info.value.field == "VendorCredentials.client_secret"


@pytest.mark.parametrize("tenant", [None, ""])
def test_techwolf_credentials_without_a_tenant_name_the_block_field(tenant: str | None) -> None:
    """TechWolf credentials without a tenant fail at get_token_provider(), naming the field."""
    credentials = _credentials(preset="techwolf-eu", tenant=tenant)
    with pytest.raises(ConfigurationError) as info:
        credentials.get_token_provider()
    assert info.value.field == "VendorCredentials.tenant"
    assert "is required by preset 'techwolf-eu'" in str(info.value)
    assert SECRET not in str(info.value)


def test_vendor_api_without_a_tenant_fails_at_get_client() -> None:
    """A VendorApi over TechWolf credentials without a tenant names the credentials' field."""
    api = VendorApi(
        credentials=_credentials(preset="techwolf-eu"),
        base_url="https://api.example.com",
        token_cache="memory",
    )
    with pytest.raises(ConfigurationError) as info:
        api.get_client()
    assert info.value.field == "VendorCredentials.tenant"


def test_bad_base_url_fails_at_get_client() -> None:
    """A base URL without a scheme fails at get_client() naming the field."""
    api = VendorApi(credentials=_credentials(), base_url="api.example.com", token_cache="memory")
    with pytest.raises(ConfigurationError) as info:
        api.get_client()
    assert info.value.field == "VendorApi.base_url"


def test_vault_connection_translates_with_secrets_hidden() -> None:
    """A Vault token held by the block reaches the core as a masked Secret."""
    creds = _credentials(
        client_secret=None,
        client_secret_ref="vault:secret/acme#client_secret",
        vault=VaultConnection(address="http://127.0.0.1:8200", token=SecretStr(SECRET)),
    )
    config = token_config(creds)
    assert config.vault is not None
    assert config.vault.url == "http://127.0.0.1:8200"
    assert SECRET not in repr(config) + repr(config.vault)


def test_block_repr_and_dump_hide_secrets() -> None:
    """Printing a block or dumping it to JSON never shows a secret value."""
    creds = _credentials()
    shown = repr(creds) + creds.model_dump_json()
    assert SECRET not in shown


def test_public_names_and_registrations() -> None:
    """Importing the collection exposes its names and registers its cache and secret scheme."""
    import vendorgate.prefect as collection
    from vendorgate.cache import cache_from_mapping
    from vendorgate.secrets import parse_secret_ref

    for name in collection.__all__:
        assert getattr(collection, name) is not None, name
    cache = cache_from_mapping(
        {"store": {"backend": "prefect-block"}, "lock": {"backend": "prefect-gcl"}}
    )
    assert type(cache.store).__name__ == "PrefectBlockStore"
    assert type(cache.lock).__name__ == "PrefectConcurrencyLock"
    assert parse_secret_ref("prefect-secret:acme", field="client_secret").scheme == (
        "prefect-secret"
    )


def test_prefect_collections_entry_point() -> None:
    """A Prefect server or worker next to the package imports it (and its blocks)."""
    from importlib.metadata import entry_points

    points = {ep.name: ep.value for ep in entry_points(group="prefect.collections")}
    assert points.get("vendorgate") == "vendorgate.prefect"


@pytest.mark.slow
def test_prefect_block_register_cli(prefect_harness: None) -> None:
    """`prefect block register -m vendorgate.prefect` registers every block type."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import httpx
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value())
    prefect_cli = Path(sys.executable).parent / "prefect"
    done = subprocess.run(
        [str(prefect_cli), "block", "register", "-m", "vendorgate.prefect"],
        env={**os.environ, "PREFECT_API_URL": url},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with httpx.Client(base_url=url, timeout=30) as api:
        for block in BLOCKS:
            slug = block.get_block_type_slug()
            assert api.get(f"/block_types/slug/{slug}").status_code == 200, slug
