"""Fault injection: each fault a test can set is observable from a plain HTTP client."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest

from vendorgate import _errors
from vendorgate.testing.sandbox import Faults

pytestmark = pytest.mark.slow

LONEWOLF = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret-lonewolf",
    "audience": "https://api.lwolf.com",
}


def test_injected_status_burst_then_recovery(sandbox, http):
    """status=503 with status_burst=2 fails exactly the first two requests."""
    sandbox.set_faults(status=503, status_burst=2)
    codes = [http.get(sandbox.url + "/ping").status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_each_5xx_can_be_injected(sandbox, http, status):
    """Any 5xx status can be injected and comes with a JSON body."""
    sandbox.set_faults(status=status, status_burst=1)
    r = http.get(sandbox.url + "/ping")
    assert r.status_code == status
    assert r.json()["error"] == "injected_fault"


def test_status_every_nth_request(sandbox, http):
    """status_every=3 fails requests 3 and 6."""
    sandbox.set_faults(status=500, status_every=3)
    codes = [http.get(sandbox.url + "/ping").status_code for _ in range(6)]
    assert codes == [200, 200, 500, 200, 200, 500]


def test_429_with_retry_after_seconds(sandbox, http):
    """An injected 429 carries Retry-After in seconds."""
    sandbox.set_faults(status=429, retry_after_s=7)
    r = http.get(sandbox.url + "/ping")
    assert (r.status_code, r.headers["retry-after"]) == (429, "7")


def test_429_with_retry_after_http_date(sandbox, http):
    """retry_after_http_date sends Retry-After as an HTTP-date about retry_after_s ahead."""
    sandbox.set_faults(status=429, retry_after_s=120, retry_after_http_date=True)
    r = http.get(sandbox.url + "/ping")
    when = email.utils.parsedate_to_datetime(r.headers["retry-after"]).timestamp()
    assert 60 < when - time.time() <= 121


def test_fault_path_limits_the_fault(sandbox, http):
    """Faults apply only to paths matching the glob."""
    sandbox.set_faults(path="/lonewolf/*", status=500)
    assert http.get(sandbox.url + "/ping").status_code == 200
    assert http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).status_code == 500


def test_latency_delays_the_reply(sandbox, http):
    """latency_ms holds every matching reply back at least that long."""
    sandbox.set_faults(latency_ms=200)
    start = time.monotonic()
    assert http.get(sandbox.url + "/ping").status_code == 200
    assert time.monotonic() - start >= 0.2


def test_connection_reset_before_reply(sandbox):
    """reset_burst closes the connection without any reply."""
    sandbox.set_faults(reset_burst=1)
    with httpx.Client() as client:
        with pytest.raises(httpx.TransportError):
            client.get(sandbox.url + "/ping")
        assert client.get(sandbox.url + "/ping").status_code == 200
    assert sandbox.counters().resets == 1


def test_connection_reset_mid_body(sandbox, http):
    """reset_mid_body sends the headers and half of the body, then resets."""
    token = http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()["access_token"]
    sandbox.set_faults(path="/lonewolf/api/*", reset_burst=1, reset_mid_body=True)
    with httpx.Client() as client, pytest.raises(httpx.TransportError):
        client.get(
            sandbox.api_url("lonewolf") + "/items", headers={"Authorization": f"Bearer {token}"}
        )


def test_truncated_json(sandbox, http):
    """truncate_burst sends a 200 whose JSON body is cut in half."""
    sandbox.set_faults(truncate_burst=1)
    r = http.post(sandbox.token_url("lonewolf"), json=LONEWOLF)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()["access_token"]


def test_html_from_token_endpoint(sandbox, http):
    """html_token_endpoint makes token endpoints answer an HTML page."""
    sandbox.set_faults(html_token_endpoint=True)
    r = http.post(sandbox.token_url("lonewolf"), json=LONEWOLF)
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>")


def test_revoke_all_tokens_of_a_client(sandbox, http):
    """revoke_client() makes every token of that client fail; a new token works."""
    tokens = [
        http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()["access_token"]
        for _ in range(2)
    ]
    assert sandbox.revoke_client("lonewolf", "demo-client") >= 2
    url = sandbox.api_url("lonewolf") + "/items"
    for token in tokens:
        assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    fresh = http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()["access_token"]
    assert http.get(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_short_token_lifetime(sandbox, http):
    """token_lifetime_s shortens expires_in, and the API refuses the token once it expired."""
    sandbox.set_faults(token_lifetime_s={"lonewolf": 1})
    body = http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()
    assert body["expires_in"] == 1
    url = sandbox.api_url("lonewolf") + "/items"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    deadline = time.monotonic() + 10
    while http.get(url, headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "token never expired"
        time.sleep(0.1)
    assert http.get(url, headers=headers).status_code == 403


def test_rate_limit(sandbox, http):
    """Beyond rate_limit_burst requests at rate_limit_rps, replies are 429 with Retry-After."""
    sandbox.set_faults(rate_limit_rps=0.01, rate_limit_burst=2)
    codes = [http.get(sandbox.url + "/ping") for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert int(codes[2].headers["retry-after"]) >= 1
    assert sandbox.counters().rate_limited == 1


def test_set_faults_with_dataclass_replaces(sandbox, http):
    """set_faults(Faults(...)) replaces earlier faults; set_faults(**changes) merges."""
    sandbox.set_faults(latency_ms=5)
    merged = sandbox.set_faults(status=500, status_burst=1)
    assert (merged.latency_ms, merged.status) == (5, 500)
    replaced = sandbox.set_faults(Faults(status=502))
    assert (replaced.latency_ms, replaced.status) == (0, 502)
    assert sandbox.faults == replaced


def test_unknown_fault_names_the_field(sandbox):
    """A misspelt fault raises ConfigurationError naming the field."""
    with pytest.raises(_errors.ConfigurationError, match="latency"):
        sandbox.set_faults(latency=5)


def test_bad_fault_value_names_the_field(sandbox):
    """A bad fault value raises ConfigurationError naming the field."""
    with pytest.raises(_errors.ConfigurationError, match="status"):
        Faults(status=200)


def test_reset_clears_faults_and_counters(sandbox, http):
    """reset() removes faults and zeroes counters."""
    sandbox.set_faults(status=500)
    http.get(sandbox.url + "/ping")
    sandbox.reset()
    assert http.get(sandbox.url + "/ping").status_code == 200
    counters = sandbox.counters()
    assert (counters.server_errors, counters.requests) == (0, 1)


def test_reset_lifts_revocations(sandbox, http):
    """reset() lifts revocations: a revoked token works again afterwards."""
    token = http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()["access_token"]
    url = sandbox.api_url("lonewolf") + "/items"
    sandbox.revoke_token(token)
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    sandbox.reset()
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
