"""How the command line behaves as people expect: help, version, no abbreviations, hints."""

from __future__ import annotations

import argparse
import json

import pytest

import vendorgate
from vendorgate.cli import build_parser, main


def _walk(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _walk(sub)


def test_version_prints_the_package_version(capsys) -> None:
    """`vendorgate --version` prints the installed version and exits 0."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"vendorgate {vendorgate.__version__}"


def test_bare_command_prints_help_and_exits_0(capsys) -> None:
    """`vendorgate` with no command prints the help (with every command) and exits 0."""
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: vendorgate")
    for command in ("presets", "token", "doctor", "jwk", "sandbox", "demo"):
        assert command in out


def test_description_says_what_the_tool_does_without_rest_markup(capsys) -> None:
    """The top-level help describes the tool in plain words, not reST markup."""
    help_text = build_parser().format_help()
    assert "``" not in help_text
    assert "OAuth 2.0" in help_text
    assert "Vault" in help_text
    assert "exit codes" in help_text


def test_no_parser_accepts_abbreviated_options() -> None:
    """Every parser, subcommands included, refuses prefixes of long options."""
    parsers = list(_walk(build_parser()))
    assert len(parsers) >= 7
    assert all(p.allow_abbrev is False for p in parsers)


def test_show_is_not_taken_for_show_token(capsys) -> None:
    """`--show` is refused, not read as `--show-token` (which prints a secret)."""
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "--preset", "oauth2-basic", "--client-id", "x", "--show"])
    assert exit_info.value.code == 2
    assert "--show" in capsys.readouterr().err


def test_unknown_command_suggests_the_close_one(capsys) -> None:
    """A misspelt command gets a "did you mean" with the right one."""
    with pytest.raises(SystemExit) as exit_info:
        main(["tokn"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "did you mean 'token'?" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_preset_suggests_the_close_ones(capsys) -> None:
    """A preset name that is a prefix or a near miss gets "did you mean" with the presets."""
    code = main(["token", "--preset", "techwolf", "--client-id", "x"])
    assert code == 2
    err = capsys.readouterr().err
    assert "did you mean 'techwolf-eu' or 'techwolf-us'?" in err


def test_subcommand_error_points_at_the_subcommand_help(capsys) -> None:
    """A usage error in a subcommand points at that subcommand's --help."""
    with pytest.raises(SystemExit):
        main(["token", "--nope"])
    assert "see 'vendorgate token --help'" in capsys.readouterr().err


def test_presets_json_is_valid(capsys) -> None:
    """`vendorgate presets --json` prints JSON."""
    assert main(["presets", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_errors_name_the_flag_not_the_field(capsys) -> None:
    """A missing token URL is reported as the --token-url flag, not as token.token_url."""
    assert main(["token", "--preset", "oauth2-basic", "--client-id", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vendorgate: error: --token-url")
    assert "token_url" not in err


def test_missing_client_id_names_the_flag_once(capsys) -> None:
    """A missing client id says "--client-id is required", naming the flag once."""
    assert main(["token", "--preset", "oauth2-basic"]) == 2
    err = capsys.readouterr().err
    assert "--client-id is required" in err
    assert err.count("--client-id") == 1


def test_techwolf_without_tenant_is_refused_before_any_request(capsys) -> None:
    """TechWolf's required tenant is checked before the token endpoint is contacted."""
    code = main(
        [
            "token",
            "--preset",
            "techwolf-eu",
            "--client-id",
            "x",
            "--client-secret",
            "literal:y",
            "--token-url",
            "http://127.0.0.1:9/oauth/token",
        ]
    )
    assert code == 2  # a request would have failed with exit 1 (connection refused)
    assert "--tenant is required by preset 'techwolf-eu'" in capsys.readouterr().err


def test_timeout_must_be_a_positive_finite_number(capsys) -> None:
    """`--timeout nan` is bad usage, not a token request without a deadline."""
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "--preset", "oauth2-basic", "--client-id", "x", "--timeout", "nan"])
    assert exit_info.value.code == 2
    assert "--timeout" in capsys.readouterr().err
