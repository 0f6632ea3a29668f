"""`vendorgate sandbox --print-config`: demo credentials keyed by the preset names."""

from __future__ import annotations

import json

import pytest

from vendorgate.cli import main
from vendorgate.dialects import list_dialects

pytestmark = pytest.mark.slow


def test_print_config_has_an_entry_per_preset(sandbox) -> None:
    """Every built-in preset name has its token URL, API URL and demo client in the config."""
    presets = sandbox.config()["presets"]
    names = {d.name for d in list_dialects(include_custom=False)}
    assert set(presets) == names
    assert presets["tci-atm"]["token_url"] == sandbox.token_url("tci-atm")
    assert presets["techwolf-eu"]["tenant"] == "demo-tenant"
    assert presets["oauth2-private-key-jwt"]["client_id"] == "demo-jwt-client"
    assert presets["wokelo"]["username"]


@pytest.mark.parametrize("preset", ["tci-atm", "techwolf-us", "oauth2-post", "wokelo"])
def test_token_flags_come_straight_from_the_preset_entry(
    preset: str, sandbox, monkeypatch, capsys
) -> None:
    """`--preset NAME` with that preset's entry's fields gets a token, no name mapping."""
    entry = sandbox.config()["presets"][preset]
    var = "CLIPKG_" + preset.upper().replace("-", "_")  # resolved values are cached per name
    args = ["token", "--preset", preset, "--token-url", entry["token_url"]]
    args += ["--client-id", entry["client_id"], "--client-secret", f"env:{var}_SECRET"]
    monkeypatch.setenv(f"{var}_SECRET", entry["client_secret"])
    if entry.get("tenant"):
        args += ["--tenant", entry["tenant"]]
    if entry.get("username"):
        monkeypatch.setenv(f"{var}_USER", entry["username"])
        monkeypatch.setenv(f"{var}_PASSWORD", entry["password"])
        args += ["--username", f"env:{var}_USER", "--password", f"env:{var}_PASSWORD"]
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["vendor"] == preset
