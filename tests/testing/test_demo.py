"""The demo pipeline (the README's main command) works end to end."""

from __future__ import annotations

import io

import pytest

from vendorgate.dialects import list_dialects
from vendorgate.testing._demo import run_demo


@pytest.mark.slow
def test_demo_covers_every_preset_with_one_token_each() -> None:
    """Every preset gets a token and its pages; two tasks share one token request."""
    out = io.StringIO()
    rows = run_demo(pages=2, page_size=10, out=out)
    assert {r.preset for r in rows} == {d.name for d in list_dialects(include_custom=False)}
    for row in rows:
        assert (row.pages, row.records, row.token_requests) == (2, 20, 1), row
        assert row.lifetime_s > 0
    text = out.getvalue()
    assert "Vault logins: 1 " in text
    for secret in ("demo-secret-", "demo-password", "BEGIN", "eyJ"):
        assert secret not in text
