"""The collection's tasks in real flow runs: results, artifacts, logs, retries."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from _prefect_helpers import make_api
from prefect import flow

from vendorgate import (
    ConfigurationError,
    OutputBusyError,
    PermissionDeniedError,
    ServerError,
    TokenRequestError,
    TokenResponseError,
    TokenTransportError,
    VaultPermissionError,
    VaultUnavailableError,
)
from vendorgate.prefect import (
    acall_vendor_api,
    aextract_vendor_data,
    call_vendor_api,
    extract_vendor_data,
    retry_on_vendor_failure,
)

if TYPE_CHECKING:
    from vendorgate.prefect import VendorApi
    from vendorgate.testing import VendorSandbox

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

PAGES = {"type": "page_number", "page_size": 100, "records_path": "items"}


def _api() -> httpx.Client:
    from prefect.settings import PREFECT_API_URL

    return httpx.Client(base_url=PREFECT_API_URL.value(), timeout=30)


def _flow_run_data(flow_run_id: Any) -> tuple[list[dict[str, Any]], str]:
    """Artifacts and the text of every log line of a flow run, read through the REST API."""
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # send what the run logged before reading it back
    with _api() as api:
        artifacts = api.post(
            "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}}
        ).json()
        logs = api.post(
            "/logs/filter", json={"logs": {"flow_run_id": {"any_": [str(flow_run_id)]}}}
        ).json()
    return artifacts, "\n".join(entry["message"] for entry in logs)


def _secret_of(sandbox: VendorSandbox) -> str:
    return str(sandbox.demo_credentials("oauth2-basic")["client_secret"].reveal())


def _fresh_api(sandbox: VendorSandbox, **changes: Any) -> VendorApi:
    """An API block for a new sandbox client: its tokens are not cached by other tests."""
    client_id = f"tasks-{uuid.uuid4().hex[:8]}"
    secret = sandbox.demo_credentials("oauth2-basic")["client_secret"]
    sandbox.add_client("oauth2-basic", client_id, client_secret=secret)
    api = make_api(sandbox, **changes)
    api.credentials.client_id = client_id
    return api


def test_extract_returns_path_and_counts_with_artifacts(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """An extract returns only path and counts, and leaves a finished progress bar and a
    summary table in the run's artifacts, with no secret or token in them."""
    api = _fresh_api(sandbox)
    name = f"api-{uuid.uuid4().hex[:8]}"
    api.save(name)

    @flow
    def pull() -> Any:
        return extract_vendor_data(name, "/items", output=tmp_path / "items.jsonl", paginator=PAGES)

    state = pull(return_state=True)
    result = state.result()

    total = sandbox.config()["dataset_size"]
    assert set(result) == {"output", "records", "pages", "resumed", "seconds"}
    assert result["records"] == total
    assert len((tmp_path / "items.jsonl").read_text().splitlines()) == total
    artifacts, logs = _flow_run_data(state.state_details.flow_run_id)
    kinds = {a["type"]: a for a in artifacts}
    assert kinds["progress"]["data"] == 100.0
    assert "records" in json.dumps(kinds["table"]["data"])
    shown = json.dumps(artifacts) + logs + json.dumps(result)
    assert _secret_of(sandbox) not in shown
    assert "eyJ" not in shown


def test_async_extract_matches_the_sync_one(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """The async task writes the same records in the same order."""
    api = _fresh_api(sandbox)

    @flow
    async def pull() -> Any:
        return await aextract_vendor_data(
            api, "/items", output=tmp_path / "a.jsonl", paginator=PAGES, concurrency=4
        )

    result = asyncio.run(pull())

    ids = [json.loads(line)["id"] for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert result["records"] == len(ids) == len(set(ids)) == sandbox.config()["dataset_size"]


def test_call_vendor_api_writes_the_body_and_returns_counts(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """A single call returns status and size; the body goes to the file, not the result."""
    api = _fresh_api(sandbox)

    @flow
    def one() -> Any:
        return call_vendor_api(api, "GET", "/items", params={"page": 1}, output=tmp_path / "p1")

    result = one()

    assert result["status"] == 200
    assert result["bytes"] == len((tmp_path / "p1").read_bytes())
    assert "items" in json.loads((tmp_path / "p1").read_text())


def test_async_call_returns_counts_only(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """The async call returns status and size; without an output the body is dropped."""
    api = _fresh_api(sandbox)

    @flow
    async def one() -> Any:
        return await acall_vendor_api(api, "GET", "/items", params={"page": 2})

    result = asyncio.run(one())

    assert result["status"] == 200
    assert result["bytes"] > 0
    assert result["output"] is None


def test_vendorgate_log_lines_reach_the_task_log(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """The client's retry warnings appear in the task run's log in the UI."""
    api = _fresh_api(sandbox)
    sandbox.set_faults(path="/oauth2/api/items", status=503, status_burst=1)

    @flow
    def pull() -> Any:
        return extract_vendor_data(api, "/items", output=tmp_path / "i.jsonl", paginator=PAGES)

    state = pull(return_state=True)

    assert state.is_completed()
    _, logs = _flow_run_data(state.state_details.flow_run_id)
    assert "status 503, retry 1" in logs


def test_opt_in_retry_resumes_from_the_checkpoint(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """With the opt-in retry condition, a failed extract resumes where it stopped."""
    api = _fresh_api(sandbox, retry_attempts=1)
    sandbox.set_faults(path="/oauth2/api/items", status=500, status_every=4)
    task = extract_vendor_data.with_options(retries=6, retry_condition_fn=retry_on_vendor_failure)

    @flow
    def pull() -> Any:
        return task(api, "/items", output=tmp_path / "r.jsonl", paginator=PAGES)

    result = pull()

    ids = [json.loads(line)["id"] for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert result["resumed"] is True
    assert len(ids) == len(set(ids)) == sandbox.config()["dataset_size"]


def test_no_retry_without_the_opt_in(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """By default the task does not retry on top of the client's own retries."""
    api = _fresh_api(sandbox, retry_attempts=1)
    sandbox.set_faults(path="/oauth2/api/items", status=500, status_every=4)

    @flow
    def pull() -> Any:
        return extract_vendor_data(api, "/items", output=tmp_path / "r.jsonl", paginator=PAGES)

    state = pull(return_state=True)

    assert state.is_failed()
    assert sandbox.counters().server_errors == 1  # one failed attempt, no second one


def test_bad_preset_fails_the_task_with_the_field_in_its_log(
    prefect_harness: None, sandbox: VendorSandbox, tmp_path: Path
) -> None:
    """An unknown preset fails the task run; its log names the field, without a secret."""
    api = make_api(sandbox)
    api.credentials.preset = "oauth3-basic"

    @flow
    def pull() -> Any:
        return extract_vendor_data(api, "/items", output=tmp_path / "x.jsonl")

    state = pull(return_state=True)

    assert state.is_failed()
    _, logs = _flow_run_data(state.state_details.flow_run_id)
    assert "VendorCredentials.preset" in logs
    assert _secret_of(sandbox) not in logs


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        pytest.param(TokenRequestError("token 500", status=500), True, id="token-5xx"),
        pytest.param(TokenRequestError("token 429", status=429), True, id="token-429"),
        pytest.param(TokenRequestError("token 400", status=400), False, id="token-400"),
        pytest.param(TokenTransportError("token unreachable"), True, id="token-transport"),
        pytest.param(TokenResponseError("token garbage", status=200), False, id="token-garbage"),
        pytest.param(VaultUnavailableError("vault sealed"), True, id="vault-sealed"),
        pytest.param(VaultPermissionError("vault denied"), False, id="vault-denied"),
        pytest.param(ServerError("api 503", status=503), True, id="api-5xx"),
        pytest.param(PermissionDeniedError("api 403", status=403), False, id="api-403"),
        pytest.param(OutputBusyError("busy", path="o", lock_path="o.lock"), False, id="busy"),
        pytest.param(ConfigurationError("bad", field="preset"), False, id="config"),
    ],
)
def test_retry_condition_retries_what_a_later_attempt_can_fix(
    error: Exception, retried: bool
) -> None:
    """The opt-in retry condition retries spent 429/5xx budgets and unreachable or sealed
    servers (token endpoint, API, Vault), never a refusal that a retry cannot change."""
    from prefect.states import Failed

    state = Failed(data=error)
    assert retry_on_vendor_failure(None, None, state) is retried  # type: ignore[arg-type]
