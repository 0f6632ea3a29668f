"""The presets registry: every vendor document is a named preset with the document's policy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vendorgate import ConfigurationError, UnknownPresetError
from vendorgate.dialects import Dialect, get_dialect, list_dialects, register

EXPECTED = {
    "techwolf-eu",
    "techwolf-us",
    "lonewolf",
    "tci-atm",
    "oauth2-basic",
    "oauth2-post",
    "oauth2-private-key-jwt",
    "wokelo",
}


def test_every_preset_is_registered() -> None:
    """All presets from the vendor documents are available by name."""
    assert {d.name for d in list_dialects()} >= EXPECTED


def test_every_preset_has_a_description() -> None:
    """`vendorgate presets` can show a one-line description for each preset."""
    for d in list_dialects():
        assert d.description
        assert "\n" not in d.description


def test_unknown_preset_lists_valid_names() -> None:
    """A misspelt preset fails with UnknownPresetError listing the valid names."""
    with pytest.raises(UnknownPresetError) as info:
        get_dialect("tech-wolf")
    message = str(info.value)
    assert "tech-wolf" in message
    assert all(name in message for name in EXPECTED)
    assert info.value.field == "preset"


def test_lonewolf_treats_403_as_stale_token() -> None:
    """Lone Wolf's 403 means an expired token, so it triggers a token refresh."""
    assert get_dialect("lonewolf").invalid_token_statuses == frozenset({401, 403})


@pytest.mark.parametrize("name", sorted(EXPECTED - {"lonewolf"}))
def test_only_401_means_stale_token_elsewhere(name: str) -> None:
    """For the 003 vendor and the others, 403 means missing permissions, not a stale token."""
    assert get_dialect(name).invalid_token_statuses == frozenset({401})


def test_tci_reads_exp_access_token_and_keeps_refresh_tokens() -> None:
    """TCI's lifetime field and refresh grant follow the 002 document."""
    d = get_dialect("tci-atm")
    assert d.lifetime_field == "exp_access_token"
    assert d.grant_type_field == "grant_types"
    assert d.keeps_refresh_token
    assert d.refresh is not None
    assert d.refresh.grant_type_field == "grantType"
    assert d.jwks_path is not None


def test_wokelo_uses_multipart_password_grant_with_trailing_slash() -> None:
    """Wokelo's token URL keeps its trailing slash and the body is multipart form-data."""
    d = get_dialect("wokelo")
    assert d.token_url is not None
    assert d.token_url.endswith("/auth/token/")
    assert (d.encoding, d.grant_type) == ("multipart", "password")


def test_techwolf_regions_differ_in_url_and_audience() -> None:
    """EU and US TechWolf tenants use their own token URL and audience."""
    eu, us = get_dialect("techwolf-eu"), get_dialect("techwolf-us")
    assert eu.audience == "eu3.techwolf.ai"
    assert us.audience == "us3.techwolf.ai"
    assert eu.token_url != us.token_url
    assert "assertion" in eu.supported_client_auth


def test_register_refuses_to_shadow_a_preset() -> None:
    """Registering a different dialect under an existing name needs replace=True."""
    with pytest.raises(ConfigurationError):
        register(Dialect(name="lonewolf"))


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_registering_a_preset_name_first_keeps_every_preset_working() -> None:
    """Registering a preset's name before any lookup is refused; every preset still resolves."""
    out = _fresh_python(
        "from vendorgate import ConfigurationError\n"
        "from vendorgate.dialects import Dialect, get_dialect, register\n"
        "try:\n"
        "    register(Dialect(name='lonewolf', encoding='json'))\n"
        "except ConfigurationError as exc:\n"
        "    print('refused', exc.field)\n"
        "print(get_dialect('techwolf-eu').name, get_dialect('lonewolf').audience)\n"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["refused", "name", "techwolf-eu", "https://api.lwolf.com"]


def test_replacing_a_preset_first_keeps_the_other_presets() -> None:
    """Replacing a preset before any lookup replaces that preset only, not the others."""
    out = _fresh_python(
        "from vendorgate.dialects import Dialect, get_dialect, list_dialects, register\n"
        "register(Dialect(name='lonewolf', encoding='json'), replace=True)\n"
        "print(get_dialect('lonewolf').encoding, get_dialect('tci-atm').name)\n"
        "print(len(list_dialects(include_custom=False)))\n"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["json", "tci-atm", str(len(EXPECTED))]


def test_register_a_custom_preset() -> None:
    """A user can register a custom dialect and get it back by name."""
    d = register(Dialect(name="test-registry-custom", encoding="json"))
    assert get_dialect("test-registry-custom") is d


def test_custom_dialects_are_listed_apart_from_shipped_presets() -> None:
    """Tools that only know the shipped presets (demo, sandbox) can list just those."""
    register(Dialect(name="test-registry-listing", encoding="json"), replace=True)
    assert "test-registry-listing" in {d.name for d in list_dialects()}
    assert {d.name for d in list_dialects(include_custom=False)} == EXPECTED
