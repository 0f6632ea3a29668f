"""A data set that grows between runs and filters on since_id (incremental pulls)."""

from __future__ import annotations

import httpx
import pytest

from vendorgate import ConfigurationError
from vendorgate.testing.sandbox import VendorSandbox

pytestmark = pytest.mark.slow


def _auth(sb: VendorSandbox, http: httpx.Client) -> dict[str, str]:
    r = http.post(
        sb.token_url("lonewolf"),
        json={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret-lonewolf",
            "audience": "https://api.lwolf.com",
        },
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.parametrize("process", [False, True])
def test_grow_appends_records_with_new_ids(process: bool, http: httpx.Client) -> None:
    """grow(n) appends n records whose ids continue the data set (thread or process)."""
    with VendorSandbox(dataset_size=5, process=process) as sb:
        assert sb.grow(3) == 8
        r = http.get(sb.api_url("lonewolf") + "/items", headers=_auth(sb, http))
        assert [i["id"] for i in r.json()["items"]] == list(range(8))


def test_since_id_filters_every_planned_route(http: httpx.Client) -> None:
    """since_id=N returns only records above N on items, offset and cursor, totals included."""
    with VendorSandbox(dataset_size=20) as sb:
        api, auth = sb.api_url("lonewolf"), _auth(sb, http)
        items = http.get(api + "/items?since_id=14&per_page=4&page=2", headers=auth).json()
        assert ([i["id"] for i in items["items"]], items["total"]) == ([19], 5)
        offset = http.get(api + "/offset?since_id=14&offset=1&limit=2", headers=auth).json()
        assert [i["id"] for i in offset["items"]] == [16, 17]
        cursor = http.get(api + "/cursor?since_id=17&limit=5", headers=auth).json()
        assert ([i["id"] for i in cursor["items"]], cursor["next_cursor"]) == ([18, 19], None)


def test_grow_refuses_a_negative_count() -> None:
    """grow() with a negative count names the field."""
    with VendorSandbox(dataset_size=1) as sb, pytest.raises(ConfigurationError, match="records"):
        sb.grow(-1)
