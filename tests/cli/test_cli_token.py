"""``vendorgate presets``, ``token`` and ``doctor`` as a subprocess against the sandbox."""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.slow


def _secret_args(sandbox, preset: str) -> list[str]:
    demo = sandbox.demo_credentials(preset)
    args = [
        "--preset",
        preset,
        "--token-url",
        sandbox.token_url(preset),
        "--client-id",
        demo["client_id"],
        "--client-secret",
        "env:DEMO_SECRET",
    ]
    if demo.get("tenant"):
        args += ["--tenant", demo["tenant"]]
    return args


def _env(sandbox, preset: str) -> dict[str, str]:
    return {"DEMO_SECRET": sandbox.demo_credentials(preset)["client_secret"].reveal()}


def test_presets_lists_every_preset_with_a_description(run_cli) -> None:
    """`vendorgate presets` prints one line per preset with its description."""
    out = run_cli("presets")
    assert out.returncode == 0
    names = {line.split()[0] for line in out.stdout.splitlines()}
    assert {
        "techwolf-eu",
        "techwolf-us",
        "lonewolf",
        "tci-atm",
        "oauth2-basic",
        "oauth2-post",
        "oauth2-private-key-jwt",
        "wokelo",
    } <= names
    assert all(len(line.split(None, 1)) == 2 for line in out.stdout.splitlines())


def test_token_prints_type_scope_expiry_but_not_the_token(run_cli, sandbox) -> None:
    """By default the token itself is not printed."""
    out = run_cli(
        "token",
        *_secret_args(sandbox, "techwolf-eu"),
        "--scope",
        "read",
        env=_env(sandbox, "techwolf-eu"),
    )
    assert out.returncode == 0, out.stderr
    assert "token_type:   Bearer" in out.stdout
    assert "scope:        read" in out.stdout
    assert "expires_in:   10800 s" in out.stdout or "expires_in:   10799 s" in out.stdout
    assert "eyJ" not in out.stdout
    assert _env(sandbox, "techwolf-eu")["DEMO_SECRET"] not in out.stdout + out.stderr


def test_token_json_with_show_token(run_cli, sandbox) -> None:
    """--json --show-token prints one JSON object including the access token."""
    out = run_cli(
        "token",
        *_secret_args(sandbox, "oauth2-basic"),
        "--json",
        "--show-token",
        env=_env(sandbox, "oauth2-basic"),
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"token_type", "expires_in", "expires_at", "scope", "access_token"} <= set(data)
    assert data["expires_in"] in (3599, 3600)
    assert data["access_token"].count(".") == 2


def test_token_json_hides_the_token_by_default(run_cli, sandbox) -> None:
    """--json without --show-token has no access_token key."""
    out = run_cli(
        "token", *_secret_args(sandbox, "lonewolf"), "--json", env=_env(sandbox, "lonewolf")
    )
    assert out.returncode == 0, out.stderr
    assert "access_token" not in json.loads(out.stdout)


def test_wokelo_password_grant_from_the_cli(run_cli, sandbox) -> None:
    """The password grant takes --username and --password references."""
    demo = sandbox.demo_credentials("wokelo")
    out = run_cli(
        "token",
        *_secret_args(sandbox, "wokelo"),
        "--username",
        f"literal:{demo['username']}",
        "--password",
        "env:WOKELO_PW",
        "--json",
        env={**_env(sandbox, "wokelo"), "WOKELO_PW": demo["password"].reveal()},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["scope"] == "read write"


def test_failed_fetch_exits_1_with_one_line_and_no_secret(run_cli, sandbox) -> None:
    """A refused token request exits 1 with one line on stderr and no secret in it."""
    out = run_cli("token", *_secret_args(sandbox, "lonewolf"), env={"DEMO_SECRET": "wrong-s3cr3t"})
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1
    assert "401" in out.stderr
    assert "wrong-s3cr3t" not in out.stderr


def test_unknown_preset_exits_2_listing_presets(run_cli) -> None:
    """A misspelt preset is bad usage (exit 2) and the message lists the valid presets."""
    out = run_cli("token", "--preset", "techwolf", "--client-id", "x", "--client-secret", "env:X")
    assert out.returncode == 2
    assert "techwolf-eu" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_malformed_reference_exits_2(run_cli) -> None:
    """A secret pasted instead of a reference is bad usage and is not echoed."""
    out = run_cli(
        "token", "--preset", "lonewolf", "--client-id", "x", "--client-secret", "hunter2hunter2"
    )
    assert out.returncode == 2
    assert "--client-secret" in out.stderr
    assert "hunter2hunter2" not in out.stderr


def test_bad_flag_exits_2(run_cli) -> None:
    """An unknown flag is a one-line usage error with exit code 2."""
    out = run_cli("token", "--presett", "lonewolf")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


def test_token_with_vault_token_auth(run_cli, sandbox, openbao) -> None:
    """--vault-addr and --vault-token read the client secret from Vault."""
    path = f"vgcli/{uuid.uuid4().hex[:8]}"
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=path, secret=_env(sandbox, "tci"), mount_point="secret"
    )
    args = _secret_args(sandbox, "tci-atm")
    args[args.index("env:DEMO_SECRET")] = f"vault:secret/{path}#DEMO_SECRET"
    out = run_cli(
        "token",
        *args,
        "--vault-addr",
        openbao.url,
        "--vault-token",
        "env:BAO_TOKEN",
        "--json",
        env={"BAO_TOKEN": openbao.root_token},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["expires_in"] in (599, 600)


def test_token_with_vault_approle_from_environment(run_cli, sandbox, openbao) -> None:
    """AppRole credentials from VAULT_* variables read the client secret."""
    path = f"vgcli/{uuid.uuid4().hex[:8]}"
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=path, secret=_env(sandbox, "lonewolf"), mount_point="secret"
    )
    role_id, secret_id = openbao.create_approle(
        f"vgcli-{uuid.uuid4().hex[:8]}",
        policy_hcl=f'path "secret/data/{path}" {{ capabilities = ["read"] }}',
    )
    args = _secret_args(sandbox, "lonewolf")
    args[args.index("env:DEMO_SECRET")] = f"vault:secret/{path}#DEMO_SECRET"
    out = run_cli(
        "token",
        *args,
        env={"VAULT_ADDR": openbao.url, "VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id},
    )
    assert out.returncode == 0, out.stderr


def test_doctor_all_checks_pass(run_cli, sandbox, openbao) -> None:
    """doctor reports Vault, each secret, the token and the test call, and exits 0."""
    path = f"vgcli/{uuid.uuid4().hex[:8]}"
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=path, secret=_env(sandbox, "techwolf-eu"), mount_point="secret"
    )
    args = _secret_args(sandbox, "techwolf-eu")
    args[args.index("env:DEMO_SECRET")] = f"vault:secret/{path}#DEMO_SECRET"
    out = run_cli(
        "doctor",
        *args,
        "--vault-addr",
        openbao.url,
        "--vault-token",
        "env:BAO_TOKEN",
        "--api-url",
        f"{sandbox.url}/techwolf-eu",
        "--ping",
        "/version",
        env={"BAO_TOKEN": openbao.root_token},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    for step in (
        "vault reachable",
        "vault login",
        "secret client_secret",
        "token fetch",
        "ping /version",
    ):
        assert any(line.startswith("ok") and step in line for line in lines), (step, out.stdout)


def test_doctor_names_the_failing_step(run_cli, sandbox, openbao) -> None:
    """A missing Vault key fails its step with what to fix, and doctor exits 1."""
    args = _secret_args(sandbox, "lonewolf")
    args[args.index("env:DEMO_SECRET")] = f"vault:secret/vgcli/{uuid.uuid4().hex[:8]}#nope"
    out = run_cli(
        "doctor",
        *args,
        "--vault-addr",
        openbao.url,
        "--vault-token",
        "env:BAO_TOKEN",
        env={"BAO_TOKEN": openbao.root_token},
    )
    assert out.returncode == 1
    assert any(
        line.startswith("FAIL") and "secret client_secret" in line
        for line in out.stdout.splitlines()
    )


def test_doctor_unreachable_vault(run_cli, sandbox) -> None:
    """doctor says Vault cannot be reached and exits 1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = _secret_args(sandbox, "lonewolf")
    args[args.index("env:DEMO_SECRET")] = "vault:secret/x#y"
    out = run_cli(
        "doctor",
        *args,
        "--vault-addr",
        f"http://127.0.0.1:{port}",
        "--vault-token",
        "env:BAO_TOKEN",
        env={"BAO_TOKEN": "t"},
    )
    assert out.returncode == 1
    assert "FAIL  vault reachable" in out.stdout


def test_unusable_token_url_is_one_line_exit_2(run_cli) -> None:
    """A token URL without a host is bad usage: one line naming token_url, exit 2."""
    out = run_cli(
        "token",
        "--preset",
        "lonewolf",
        "--client-id",
        "x",
        "--client-secret",
        "literal:y",
        "--token-url",
        "http://",
    )
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert "--token-url" in out.stderr


def test_unreachable_token_endpoint_is_one_line_with_a_public_class(run_cli) -> None:
    """When retries run out stderr is one line naming TokenTransportError, the public
    "could not reach the token endpoint" class (no retry logs)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = run_cli(
        "token",
        "--preset",
        "lonewolf",
        "--client-id",
        "x",
        "--client-secret",
        "literal:y",
        "--token-url",
        f"http://127.0.0.1:{port}/oauth/token",
    )
    assert out.returncode == 1
    assert out.stderr.splitlines() == [out.stderr.strip()], out.stderr
    assert out.stderr.startswith("vendorgate: TokenTransportError: ")
    assert out.stdout == ""
