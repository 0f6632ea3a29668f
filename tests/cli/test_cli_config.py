"""``token`` and ``doctor`` read a connection spec from a TOML profile; flags override it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vendorgate import ConfigurationError
from vendorgate.cli import build_parser
from vendorgate.cli._token import spec_from_args

PROFILES = """
[lonewolf]
base_url = "https://api.example.com/lonewolf"
cache = { backend = "file", directory = "/tmp/vendorgate-cli-test" }
retry = { attempts = 2 }

[lonewolf.token]
preset = "lonewolf"
client_id = "from-file"
client_secret = "env:LW_SECRET"
extra_params = { lwt_client_id = "42" }

[techwolf.token]
preset = "techwolf-eu"
client_id = "tw-client"
client_secret = "env:TW_SECRET"
tenant = "acme"
"""


def _spec(tmp_path: Path, *argv: str, text: str = PROFILES):  # type: ignore[no-untyped-def]
    path = tmp_path / "vendors.toml"
    path.write_text(text)
    args = build_parser().parse_args(["token", "--config", str(path), *argv])
    return spec_from_args(args)


def test_profile_gives_the_whole_connection_spec(tmp_path: Path) -> None:
    """One --profile replaces the six flags a user would otherwise repeat."""
    spec = _spec(tmp_path, "--profile", "lonewolf")
    assert spec.token.client_id == "from-file"
    assert spec.token.client_secret == "env:LW_SECRET"
    assert spec.token.extra_params == (("lwt_client_id", "42"),)
    assert spec.base_url == "https://api.example.com/lonewolf"
    assert spec.retry is not None
    assert spec.retry.attempts == 2
    assert spec.cache == {"backend": "file", "directory": "/tmp/vendorgate-cli-test"}


def test_flags_override_the_profile(tmp_path: Path) -> None:
    """A flag wins over the same setting in the file; the rest of the profile stays."""
    spec = _spec(
        tmp_path,
        "--profile",
        "lonewolf",
        "--client-id",
        "from-flag",
        "--param",
        "lwt_client_id=7",
        "--scope",
        "read",
    )
    assert spec.token.client_id == "from-flag"
    assert spec.token.extra_params == (("lwt_client_id", "7"),)
    assert spec.token.scopes == ("read",)
    assert spec.token.client_secret == "env:LW_SECRET"


def test_single_spec_file_needs_no_profile(tmp_path: Path) -> None:
    """A file whose top level is one spec (a token table) is used as it is."""
    text = '[token]\npreset = "wokelo"\nclient_id = "c"\nclient_secret = "env:S"\n'
    text += 'username = "env:U"\npassword = "env:P"\n'
    assert _spec(tmp_path, text=text).token.vendor == "wokelo"


def test_several_profiles_without_profile_lists_them(tmp_path: Path) -> None:
    """Without --profile, a file of several profiles names them in the error."""
    with pytest.raises(ConfigurationError) as info:
        _spec(tmp_path)
    assert info.value.field == "--profile"
    assert "lonewolf, techwolf" in str(info.value)


def test_unknown_profile_lists_the_profiles(tmp_path: Path) -> None:
    """A typo in --profile lists what the file holds."""
    with pytest.raises(ConfigurationError, match="lonewolf, techwolf"):
        _spec(tmp_path, "--profile", "lonwolf")


def test_bad_field_in_a_profile_is_named_under_the_profile(tmp_path: Path) -> None:
    """An error in the file names profile.token.<field>, the path a user edits."""
    text = PROFILES.replace('client_id = "tw-client"', "client_id = 5")
    with pytest.raises(ConfigurationError) as info:
        _spec(tmp_path, "--profile", "techwolf", text=text)
    assert info.value.field == "techwolf.token.client_id"


def test_missing_tenant_in_a_profile_is_named_under_the_profile(tmp_path: Path) -> None:
    """A TechWolf profile without a tenant names techwolf.token.tenant: the line to add."""
    text = PROFILES.replace('tenant = "acme"\n', "")
    with pytest.raises(ConfigurationError) as info:
        _spec(tmp_path, "--profile", "techwolf", text=text)
    assert info.value.field == "techwolf.token.tenant"
    assert "is required by preset 'techwolf-eu'" in str(info.value)


def test_tenant_flag_fills_a_profile_without_one(tmp_path: Path) -> None:
    """--tenant completes a TechWolf profile that leaves the tenant out."""
    text = PROFILES.replace('tenant = "acme"\n', "")
    spec = _spec(tmp_path, "--profile", "techwolf", "--tenant", "acme", text=text)
    assert spec.token.tenant == "acme"


def test_file_that_is_not_toml_is_a_usage_error(tmp_path: Path) -> None:
    """A broken file is reported against --config, not as a traceback."""
    with pytest.raises(ConfigurationError) as info:
        _spec(tmp_path, text="[lonewolf\n")
    assert info.value.field == "--config"


def test_missing_preset_without_config_names_the_flags() -> None:
    """Without --config, --preset and --client-id are required (exit 2 in the CLI)."""
    args = build_parser().parse_args(["token", "--client-id", "x"])
    with pytest.raises(ConfigurationError, match="--config"):
        spec_from_args(args)


def test_profile_without_config_is_a_usage_error() -> None:
    """--profile alone is refused with what to add."""
    args = build_parser().parse_args(["token", "--profile", "x", "--preset", "lonewolf"])
    with pytest.raises(ConfigurationError) as info:
        spec_from_args(args)
    assert info.value.field == "--profile"


@pytest.mark.slow
def test_token_from_a_profile_against_the_sandbox(run_cli, sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`vendorgate token --config F --profile P` fetches a token with the profile's settings."""
    demo = sandbox.demo_credentials("lonewolf")
    path = tmp_path / "vendors.toml"
    path.write_text(
        "[sandbox.token]\n"
        'preset = "lonewolf"\n'
        'client_id = "wrong-client"\n'
        f'token_url = "{sandbox.token_url("lonewolf")}"\n'
        'client_secret = "env:DEMO_SECRET"\n'
        "[other.token]\n"
        'preset = "wokelo"\n'
    )
    out = run_cli(
        "token",
        "--config",
        str(path),
        "--profile",
        "sandbox",
        "--client-id",
        demo["client_id"],
        "--json",
        env={"DEMO_SECRET": demo["client_secret"].reveal()},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["vendor"] == "lonewolf"
    assert demo["client_secret"].reveal() not in out.stdout + out.stderr


@pytest.mark.slow
def test_doctor_pings_the_profile_base_url(run_cli, sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """doctor takes the API base URL from the profile, so --ping needs no --api-url."""
    demo = sandbox.demo_credentials("lonewolf")
    path = tmp_path / "vendors.toml"
    path.write_text(
        f'base_url = "{sandbox.api_url("lonewolf")}"\n'
        "[token]\n"
        'preset = "lonewolf"\n'
        f'client_id = "{demo["client_id"]}"\n'
        f'token_url = "{sandbox.token_url("lonewolf")}"\n'
        'client_secret = "env:DEMO_SECRET"\n'
    )
    out = run_cli(
        "doctor",
        "--config",
        str(path),
        "--ping",
        "/version",
        env={"DEMO_SECRET": demo["client_secret"].reveal()},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok    ping /version" in out.stdout
