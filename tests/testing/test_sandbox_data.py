"""The data API: every pagination style walks the whole data set with no gap or duplicate."""

from __future__ import annotations

import re

import pytest

from vendorgate.testing.sandbox import VendorSandbox

pytestmark = pytest.mark.slow

SIZE = 237  # not a multiple of any page size used below


@pytest.fixture(scope="module")
def data_sandbox():
    """A sandbox with an odd-sized data set."""
    with VendorSandbox(dataset_size=SIZE, record_bytes=120) as sb:
        yield sb


@pytest.fixture
def auth(data_sandbox, http) -> dict[str, str]:
    """Authorization header with a fresh Lone Wolf token."""
    r = http.post(
        data_sandbox.token_url("lonewolf"),
        json={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret-lonewolf",
            "audience": "https://api.lwolf.com",
        },
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _ids(items) -> list[int]:
    return [item["id"] for item in items]


def test_page_number_walk(data_sandbox, http, auth):
    """items?page=&per_page= reports total and pages and covers every record once."""
    base = data_sandbox.api_url("lonewolf") + "/items"
    first = http.get(base, params={"page": 1, "per_page": 50}, headers=auth).json()
    assert (first["total"], first["pages"]) == (SIZE, 5)
    ids = []
    for page in range(1, first["pages"] + 1):
        ids += _ids(
            http.get(base, params={"page": page, "per_page": 50}, headers=auth).json()["items"]
        )
    assert ids == list(range(SIZE))


def test_offset_limit_walk(data_sandbox, http, auth):
    """offset/limit pages cover every record once, and total is the data set size."""
    base = data_sandbox.api_url("lonewolf") + "/offset"
    ids, offset = [], 0
    while True:
        body = http.get(base, params={"offset": offset, "limit": 40}, headers=auth).json()
        assert body["total"] == SIZE
        if not body["items"]:
            break
        ids += _ids(body["items"])
        offset += len(body["items"])
    assert ids == list(range(SIZE))


def test_cursor_walk(data_sandbox, http, auth):
    """Following next_cursor until null covers every record once."""
    base = data_sandbox.api_url("lonewolf") + "/cursor"
    ids, params = [], {"limit": 64}
    while True:
        body = http.get(base, params=params, headers=auth).json()
        ids += _ids(body["items"])
        if body["next_cursor"] is None:
            break
        params = {"limit": 64, "cursor": body["next_cursor"]}
    assert ids == list(range(SIZE))


def test_next_link_in_body_walk(data_sandbox, http, auth):
    """Following the absolute `next` URL in the body covers every record once."""
    url = data_sandbox.api_url("lonewolf") + "/links?per_page=30"
    ids = []
    while url:
        body = http.get(url, headers=auth).json()
        ids += _ids(body["items"])
        url = body["next"]
    assert ids == list(range(SIZE))


def test_link_header_walk(data_sandbox, http, auth):
    """Following RFC 8288 Link rel="next" headers covers every record once."""
    url = data_sandbox.api_url("lonewolf") + "/linkheader?per_page=100"
    ids = []
    while url:
        r = http.get(url, headers=auth)
        ids += _ids(r.json())
        match = re.search(r'<([^>]+)>;\s*rel="next"', r.headers.get("link", ""))
        url = match.group(1) if match else None
    assert ids == list(range(SIZE))


def test_records_are_padded_and_deterministic(data_sandbox, http, auth):
    """Records are about record_bytes long and identical on every read."""
    url = data_sandbox.api_url("lonewolf") + "/items?per_page=5"
    a = http.get(url, headers=auth)
    b = http.get(url, headers=auth)
    assert a.json() == b.json()
    assert all(110 <= len(str(item).replace(" ", "")) <= 140 for item in a.json()["items"])


def test_bad_page_size_is_400(data_sandbox, http, auth):
    """A non-numeric per_page is a 400 JSON error naming the parameter."""
    r = http.get(data_sandbox.api_url("lonewolf") + "/items?per_page=lots", headers=auth)
    assert r.status_code == 400
    assert "per_page" in r.json()["error_description"]


def test_bad_cursor_is_400(data_sandbox, http, auth):
    """A cursor the API did not send is a 400."""
    r = http.get(data_sandbox.api_url("lonewolf") + "/cursor?cursor=%%%", headers=auth)
    assert r.status_code == 400


def test_every_reply_has_request_id(data_sandbox, http, auth):
    """Replies, errors included, carry a distinct X-Request-Id."""
    ids = {
        http.get(data_sandbox.url + "/ping").headers["x-request-id"],
        http.get(data_sandbox.api_url("lonewolf") + "/items", headers=auth).headers["x-request-id"],
        http.get(data_sandbox.url + "/nowhere").headers["x-request-id"],
    }
    assert len(ids) == 3


def test_token_of_another_vendor_is_refused(data_sandbox, http, auth):
    """A Lone Wolf token does not open the TCI data API."""
    assert http.get(data_sandbox.api_url("tci") + "/items", headers=auth).status_code == 401
