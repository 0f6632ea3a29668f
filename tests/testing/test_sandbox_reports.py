"""Asynchronous report jobs (create, poll until ready, download) and rate-limit headers."""

from __future__ import annotations

import json
import time

import pytest

from vendorgate import _errors
from vendorgate.testing.sandbox import Faults, VendorSandbox

pytestmark = pytest.mark.slow

LONEWOLF = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret-lonewolf",
    "audience": "https://api.lwolf.com",
}


def _auth(sb, http, client_id: str = "demo-client", secret: str = "demo-secret-lonewolf"):
    body = {**LONEWOLF, "client_id": client_id, "client_secret": secret}
    token = http.post(sb.token_url("lonewolf"), json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _create(sb, http, auth, **body):
    reply = http.post(sb.reports_url("lonewolf"), json=body or None, headers=auth)
    assert reply.status_code == 202, reply.text
    return reply


def _poll(http, job, auth) -> dict:
    reply = http.get(job["status_url"], headers=auth)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_report_is_pending_then_running_then_ready(sandbox, http):
    """A new report answers 202 pending, then running on the first poll, then ready."""
    auth = _auth(sandbox, http)
    created = _create(sandbox, http, auth)
    job = created.json()
    assert job["status"] == "pending"
    assert created.headers["location"] == job["status_url"]
    assert job["status_url"] == f"{sandbox.reports_url('lonewolf')}/{job['id']}"
    assert [_poll(http, job, auth)["status"] for _ in range(3)] == ["running", "ready", "ready"]
    assert _poll(http, job, auth)["download_url"] == job["status_url"] + "/download"


def test_ready_after_a_configured_number_of_polls(sandbox, http):
    """report_ready_after_polls sets how many polls answer running before ready."""
    sandbox.set_faults(report_ready_after_polls=3)
    auth = _auth(sandbox, http)
    job = _create(sandbox, http, auth).json()
    statuses = [_poll(http, job, auth)["status"] for _ in range(4)]
    assert statuses == ["running", "running", "running", "ready"]


def test_ready_on_first_poll_with_zero_polls(sandbox, http):
    """report_ready_after_polls=0 makes the first poll answer ready."""
    sandbox.set_faults(report_ready_after_polls=0)
    auth = _auth(sandbox, http)
    assert _poll(http, _create(sandbox, http, auth).json(), auth)["status"] == "ready"


def test_not_ready_before_the_configured_delay(sandbox, http):
    """report_ready_after_s keeps a job running until that many seconds have passed."""
    sandbox.set_faults(report_ready_after_polls=0, report_ready_after_s=3600)
    auth = _auth(sandbox, http)
    job = _create(sandbox, http, auth).json()
    assert {_poll(http, job, auth)["status"] for _ in range(3)} == {"running"}


def test_ready_after_the_configured_delay(sandbox, http):
    """Once report_ready_after_s has passed, the next poll answers ready."""
    sandbox.set_faults(report_ready_after_polls=0, report_ready_after_s=0.2)
    auth = _auth(sandbox, http)
    job = _create(sandbox, http, auth).json()
    time.sleep(0.3)
    assert _poll(http, job, auth)["status"] == "ready"


def test_download_pages_cover_the_report_once(sandbox, http):
    """The download pages like /items and holds the report's records, in order, once."""
    sandbox.set_faults(report_ready_after_polls=0)
    auth = _auth(sandbox, http)
    job = _create(sandbox, http, auth, records=237, name="weekly").json()
    assert job["name"] == "weekly"
    url = _poll(http, job, auth)["download_url"]
    first = http.get(url, params={"per_page": 100}, headers=auth).json()
    assert (first["total"], first["pages"]) == (237, 3)
    ids = []
    for page in range(1, 4):
        body = http.get(url, params={"page": page, "per_page": 100}, headers=auth).json()
        ids += [item["id"] for item in body["items"]]
    assert ids == list(range(237))


def test_download_as_json_lines(sandbox, http):
    """?format=jsonl returns every record of the report as one JSON object per line."""
    sandbox.set_faults(report_ready_after_polls=0)
    auth = _auth(sandbox, http)
    job = _create(sandbox, http, auth, records=25).json()
    reply = http.get(_poll(http, job, auth)["download_url"] + "?format=jsonl", headers=auth)
    assert reply.headers["content-type"] == "application/x-ndjson"
    lines = reply.text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(25))


def test_download_before_ready_is_409(sandbox, http):
    """Downloading a job no poll has seen ready answers 409 report_not_ready."""
    auth = _auth(sandbox, http)
    job = _create(sandbox, http, auth).json()
    reply = http.get(job["status_url"] + "/download", headers=auth)
    assert reply.status_code == 409
    assert reply.json()["error"] == "report_not_ready"


def test_injected_failure_ends_the_job_failed(sandbox, http):
    """report_fail_burst=1 fails the first job (status failed, download 409); the next is fine."""
    sandbox.set_faults(report_ready_after_polls=0, report_fail_burst=1)
    auth = _auth(sandbox, http)
    failed = _poll(http, _create(sandbox, http, auth).json(), auth)
    assert failed["status"] == "failed"
    assert "fault" in failed["reason"]
    assert "download_url" not in failed
    download = http.get(failed["status_url"] + "/download", headers=auth)
    assert (download.status_code, download.json()["error"]) == (409, "report_failed")
    assert _poll(http, _create(sandbox, http, auth).json(), auth)["status"] == "ready"
    assert sandbox.counters().reports_failed == 1


def test_report_counters(sandbox, http):
    """Counters count report jobs created, status polls and downloads."""
    sandbox.set_faults(report_ready_after_polls=1)
    auth = _auth(sandbox, http)
    job = _create(sandbox, http, auth, records=3).json()
    _poll(http, job, auth)
    url = _poll(http, job, auth)["download_url"]
    http.get(url, headers=auth)
    counters = sandbox.counters()
    assert (counters.reports_created, counters.report_polls, counters.report_downloads) == (1, 2, 1)
    assert [(j["id"], j["status"], j["polls"]) for j in sandbox.reports()] == [
        (job["id"], "ready", 2)
    ]


def test_report_routes_need_a_bearer_token(sandbox, http):
    """Creating or polling a report without a good token is refused like the data API."""
    assert http.post(sandbox.reports_url("lonewolf")).status_code == 403
    assert http.post(sandbox.reports_url("tci")).status_code == 401


def test_another_clients_report_is_not_found(sandbox, http):
    """A client sees only its own report jobs: another client's id answers 404."""
    sandbox.add_client("lonewolf", "other", client_secret="other-secret")
    job = _create(sandbox, http, _auth(sandbox, http)).json()
    reply = http.get(job["status_url"], headers=_auth(sandbox, http, "other", "other-secret"))
    assert (reply.status_code, reply.json()["error"]) == (404, "report_not_found")


def test_bad_report_request_names_the_field(sandbox, http):
    """A report request with a bad records value is a 400 naming records."""
    auth = _auth(sandbox, http)
    reply = http.post(sandbox.reports_url("lonewolf"), json={"records": -1}, headers=auth)
    assert reply.status_code == 400
    assert "records" in reply.json()["error_description"]


def test_oauth2_reports_need_the_reports_scope(sandbox, http):
    """The generic OAuth 2.0 vendor's report jobs need the scope reports, as its list does."""
    token = http.post(
        sandbox.token_url("oauth2"),
        data={"grant_type": "client_credentials"},
        auth=("demo-readonly", "demo-secret-oauth2"),
    ).json()["access_token"]
    reply = http.post(sandbox.reports_url("oauth2"), headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 403


def test_bad_report_fault_names_the_field(sandbox):
    """A negative report delay is refused with the field's name."""
    with pytest.raises(_errors.ConfigurationError) as info:
        sandbox.set_faults(report_ready_after_s=-1)
    assert info.value.field == "report_ready_after_s"


def test_process_mode_reports_over_http(http):
    """A subprocess sandbox runs report jobs, their faults and their listing over HTTP."""
    with VendorSandbox(process=True, dataset_size=5) as sb:
        sb.set_faults(report_ready_after_polls=0, report_fail_every=2)
        auth = _auth(sb, http)
        statuses = [_poll(http, _create(sb, http, auth).json(), auth)["status"] for _ in range(2)]
        assert statuses == ["ready", "failed"]
        assert [job["status"] for job in sb.reports()] == ["ready", "failed"]
        assert sb.counters().reports_failed == 1


# --------------------------------------------------------------------- rate-limit headers
def test_rate_limit_headers_off_by_default(sandbox, http):
    """The rate limit sends no RateLimit or X-RateLimit headers unless asked to."""
    sandbox.set_faults(rate_limit_rps=100, rate_limit_burst=100)
    reply = http.get(sandbox.url + "/ping")
    assert not [h for h in reply.headers if "ratelimit" in h.lower()]


def test_ietf_rate_limit_headers(sandbox, http):
    """rate_limit_headers='ietf' sends RateLimit-Policy and RateLimit on 200s and 429s."""
    sandbox.set_faults(rate_limit_rps=0.01, rate_limit_burst=2, rate_limit_headers="ietf")
    replies = [http.get(sandbox.url + "/ping") for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 429]
    assert replies[0].headers["ratelimit-policy"] == '"default";q=2;w=200'
    assert replies[0].headers["ratelimit"].startswith('"default";r=1;t=')
    assert replies[2].headers["ratelimit"].startswith('"default";r=0;t=')
    assert "x-ratelimit-limit" not in replies[0].headers


def test_x_rate_limit_headers(sandbox, http):
    """rate_limit_headers='x' sends X-RateLimit-Limit, -Remaining and -Reset in seconds."""
    sandbox.set_faults(rate_limit_rps=10, rate_limit_burst=10, rate_limit_headers="x")
    reply = http.get(sandbox.url + "/ping")
    assert reply.headers["x-ratelimit-limit"] == "10"
    assert reply.headers["x-ratelimit-remaining"] == "9"
    assert int(reply.headers["x-ratelimit-reset"]) in (0, 1)
    assert "ratelimit" not in reply.headers


def test_x_rate_limit_reset_as_unix_time(sandbox, http):
    """rate_limit_headers='x-epoch' sends X-RateLimit-Reset as a Unix time, as GitHub does."""
    sandbox.set_faults(rate_limit_rps=1, rate_limit_burst=5, rate_limit_headers="x-epoch")
    before = int(time.time())
    reply = http.get(sandbox.url + "/ping")
    assert before <= int(reply.headers["x-ratelimit-reset"]) <= before + 60


def test_both_rate_limit_header_families(sandbox, http):
    """rate_limit_headers='both' sends the IETF fields and the X- family together."""
    sandbox.set_faults(rate_limit_rps=50, rate_limit_burst=50, rate_limit_headers="both")
    reply = http.get(sandbox.url + "/ping")
    assert reply.headers["ratelimit-policy"] == '"default";q=50;w=1'
    assert reply.headers["x-ratelimit-limit"] == "50"


def test_bad_rate_limit_header_style_names_the_field():
    """An unknown header style is refused with the field's name and the accepted values."""
    with pytest.raises(_errors.ConfigurationError) as info:
        Faults(rate_limit_headers="github")
    assert info.value.field == "rate_limit_headers"
    assert "ietf" in str(info.value)
