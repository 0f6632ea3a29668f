"""The matrix's own leak scan is not vacuous: a token leaked in an encoded form is caught."""

from __future__ import annotations

import base64
import logging

import pytest

from vendorgate.testing import LeakFound

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(60)]


@pytest.mark.parametrize("where", ["log", "file", "exception"])
def test_matrix_scan_catches_an_encoded_token(run, caplog, where: str) -> None:  # type: ignore[no-untyped-def]
    """A token written base64url-encoded to a log, a file or an error fails the scenario."""
    with run.connection().client() as client:
        client.get("/items")
    (token,) = run.sandbox.issued_tokens("lonewolf", run.client_id)
    leaked = base64.urlsafe_b64encode(token.reveal().encode()).decode().rstrip("=")
    if where == "log":
        logging.getLogger("reliab.selfcheck").debug("state=%s", leaked)
    elif where == "file":
        (run.tmp_path / "out" / "part.json").parent.mkdir()
        (run.tmp_path / "out" / "part.json").write_text(f'{{"state": "{leaked}"}}')
    else:
        run.errors.append(RuntimeError(f"bad state {leaked}"))
    with pytest.raises(LeakFound) as info:
        run.scan(caplog).assert_clean()
    assert "found as base64" in str(info.value)
    assert leaked not in str(info.value)
    # Leave the run clean for the fixture's own final scan.
    caplog.clear()
    run.errors.clear()
    run.scanner.leaks.clear()
    for path in run.tmp_path.rglob("part.json"):
        path.unlink()
