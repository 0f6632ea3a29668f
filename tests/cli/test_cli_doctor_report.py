"""``vendorgate doctor``: each fault reported once, and a machine-readable report."""

from __future__ import annotations

import json

import pytest

from vendorgate.cli import main

_UNSET = "VENDORGATE_CLIPKG_UNSET_SECRET"


def _args(token_url: str = "http://127.0.0.1:9/token") -> list[str]:
    return [
        "doctor",
        "--preset",
        "lonewolf",
        "--token-url",
        token_url,
        "--client-id",
        "demo-client",
        "--client-secret",
        f"env:{_UNSET}",
    ]


def test_a_failed_secret_is_reported_once(capsys, monkeypatch) -> None:
    """A secret that does not resolve fails its own step; the token fetch is skipped."""
    monkeypatch.delenv(_UNSET, raising=False)
    assert main(_args()) == 1
    out = capsys.readouterr().out
    assert out.count(_UNSET) == 1
    assert "skip  token fetch: skipped: secret client_secret failed" in out
    assert "1 check(s) failed" in out


def test_doctor_json_lists_every_step(capsys, monkeypatch) -> None:
    """`doctor --json` prints one JSON object: ok, and each step with its status."""
    monkeypatch.delenv(_UNSET, raising=False)
    assert main([*_args(), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["failed"] == 1
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["secret client_secret"]["status"] == "fail"
    assert steps["secret client_secret"]["error"] == "SecretNotFoundError"
    assert steps["token fetch"]["status"] == "skip"
    assert set(steps["vault"]) == {"step", "status", "detail", "error"}


@pytest.mark.slow
def test_doctor_json_passes_without_printing_the_secret(capsys, monkeypatch, sandbox) -> None:
    """A passing `doctor --json` says ok and carries neither the secret nor the token."""
    secret = sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    monkeypatch.setenv(_UNSET, secret)
    assert main([*_args(sandbox.token_url("lonewolf")), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["ok"] is True
    assert [s["status"] for s in report["steps"]] == ["skip", "ok", "ok"]
    assert secret not in out
    assert "eyJ" not in out
