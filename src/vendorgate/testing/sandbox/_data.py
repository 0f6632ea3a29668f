"""The bearer-protected data API: one deterministic data set, five pagination styles.

Under every vendor prefix (``/{vendor}/api/...``):

- ``items?page=&per_page=``: page numbers; reply ``{items, page, per_page, total, pages}``
- ``offset?offset=&limit=``: reply ``{items, offset, limit, total}``
- ``cursor?cursor=&limit=``: reply ``{items, next_cursor}`` (``null`` on the last page)
- ``links?page=&per_page=``: reply ``{items, next}`` with ``next`` an absolute URL or ``null``
- ``linkheader?page=&per_page=``: a JSON array, ``Link: <...>; rel="next"`` (RFC 8288)
- ``items``, ``offset`` and ``cursor`` accept ``since_id=N``: only the records whose ``id``
  is above ``N`` (the data set grows with ``VendorSandbox.grow``; ids are ``0, 1, ...``)
- ``version`` (also ``/techwolf-*/version``), ``reports`` (``oauth2``: needs scope ``reports``)
- asynchronous reports: ``POST reports`` creates a job (202, ``{id, status, status_url}``),
  ``GET reports/{id}`` polls it (``pending``/``running``/``ready``/``failed``),
  ``GET reports/{id}/download`` pages through its records like ``items`` (or
  ``?format=jsonl`` for JSON Lines) once a poll answered ``ready``

A token that is not good (unknown, expired, revoked, another vendor's) gets the vendor's
status: 401 with ``WWW-Authenticate: Bearer``, except Lone Wolf, which answers 403.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Final

from vendorgate.testing.sandbox._http import BadRequest, Reply, Request, json_reply

if TYPE_CHECKING:
    from vendorgate.testing.sandbox._reports import Report
    from vendorgate.testing.sandbox._state import Issued, SandboxState

__all__ = ["handle_api", "record"]

_MAX_PAGE: Final = 1000
#: Routes that filter on ``since_id``.
_SINCE: Final = frozenset({"items", "offset", "cursor"})
_DEFAULT_PAGE: Final = 100


def record(i: int, record_bytes: int) -> dict[str, object]:
    """Record ``i`` of the data set, padded so its JSON is about ``record_bytes`` long."""
    rec: dict[str, object] = {
        "id": i,
        "name": f"item-{i:06d}",
        "value": (i * 7919) % 1000,
        "pad": "",
    }
    base = len(json.dumps(rec, separators=(",", ":")))
    rec["pad"] = "x" * max(0, record_bytes - base)
    return rec


_CACHE_LIMIT: Final = 200_000
_cache: dict[tuple[int, int], bytes] = {}


def _record_json(i: int, record_bytes: int) -> bytes:
    key = (i, record_bytes)
    data = _cache.get(key)
    if data is None:
        data = json.dumps(record(i, record_bytes), separators=(",", ":")).encode()
        if len(_cache) < _CACHE_LIMIT:
            _cache[key] = data
    return data


def _items_reply(items: bytes, extra: dict[str, object] | None = None) -> Reply:
    """``{"items": [...], **extra}`` from pre-serialised records."""
    tail = b""
    if extra:
        tail = b"," + json.dumps(extra, separators=(",", ":")).encode()[1:-1]
    return Reply(200, b'{"items":' + items + tail + b"}")


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        upper = f"..{high}" if high is not None else " or more"
        raise BadRequest(
            400,
            {
                "error": "invalid_request",
                "error_description": f"{name} must be an integer {low}{upper}",
            },
        )
    return value


def _authorize(state: SandboxState, request: Request, vendor: str) -> Issued:
    bad_status = 403 if vendor == "lonewolf" else 401
    headers = [] if bad_status == 403 else [(b"www-authenticate", b'Bearer error="invalid_token"')]
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    issued = state.check_access(token.strip(), vendor) if scheme.lower() == "bearer" else None
    if issued is None:
        raise BadRequest(
            bad_status,
            {
                "error": "invalid_token",
                "error_description": "the access token is missing, expired, revoked or unknown",
            },
            headers,
        )
    return issued


def _slice(state: SandboxState, start: int, count: int, end: int | None = None) -> bytes:
    """Records ``start .. start+count-1`` (clipped to ``end``, default the data set) as JSON."""
    stop = min(state.dataset_size if end is None else end, start + count)
    size = state.record_bytes
    return b"[" + b",".join(_record_json(i, size) for i in range(start, stop)) + b"]"


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        offset = int(value)
        if prefix != "o" or offset < 0:
            raise ValueError(cursor)
    except ValueError:
        raise BadRequest(
            400,
            {
                "error": "invalid_request",
                "error_description": "cursor is not a cursor this API sent",
            },
        ) from None
    return offset


def handle_api(state: SandboxState, request: Request, vendor: str, route: str) -> Reply:
    """Answer one data API request (``route`` is the path after ``/{vendor}/api/``)."""
    state.count_api_request(vendor)
    if route == "reports" and request.method == "POST":
        pass  # creating a report job is the one write of the data API
    elif request.method not in ("GET", "HEAD"):
        allow = b"GET, POST" if route == "reports" else b"GET"
        raise BadRequest(
            405,
            {
                "error": "method_not_allowed",
                "error_description": f"this route answers {allow.decode()}",
            },
            [(b"allow", allow)],
        )
    issued = _authorize(state, request, vendor)
    total = state.dataset_size
    if route == "version":
        return json_reply(200, {"version": "sandbox-1", "vendor": vendor})
    if route == "reports" or route.startswith("reports/"):
        if vendor == "oauth2" and "reports" not in issued.scopes:
            raise BadRequest(
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "this endpoint needs the scope 'reports'",
                },
            )
        if route == "reports" and request.method != "POST":
            return json_reply(200, {"reports": [{"name": "daily", "records": total}]})
        return _handle_report(state, request, vendor, issued, route)
    # since_id=N: only records with a larger id (an incremental pull's high-water mark)
    first = _int_param(request, "since_id", -1, -1, None) + 1 if route in _SINCE else 0
    total = max(0, total - first)
    if route in ("items", "links", "linkheader"):
        page = _int_param(request, "page", 1, 1, None)
        per_page = _int_param(request, "per_page", _DEFAULT_PAGE, 1, _MAX_PAGE)
        items = _slice(state, first + (page - 1) * per_page, per_page)
        pages = (total + per_page - 1) // per_page
        if route == "items":
            return _items_reply(
                items, {"page": page, "per_page": per_page, "total": total, "pages": pages}
            )
        base = f"{request.url}?per_page={per_page}&page="
        next_url = f"{base}{page + 1}" if page < pages else None
        if route == "links":
            return _items_reply(items, {"next": next_url})
        links = [f'<{base}{max(pages, 1)}>; rel="last"']
        if next_url:
            links.insert(0, f'<{next_url}>; rel="next"')
        return Reply(200, items, headers=[(b"link", ", ".join(links).encode())])
    if route == "offset":
        offset = _int_param(request, "offset", 0, 0, None)
        limit = _int_param(request, "limit", _DEFAULT_PAGE, 1, _MAX_PAGE)
        return _items_reply(
            _slice(state, first + offset, limit),
            {"offset": offset, "limit": limit, "total": total},
        )
    if route == "cursor":
        raw = request.query.get("cursor") or ""
        offset = _decode_cursor(raw) if raw else 0
        limit = _int_param(request, "limit", _DEFAULT_PAGE, 1, _MAX_PAGE)
        nxt = offset + limit
        return _items_reply(
            _slice(state, first + offset, limit),
            {"next_cursor": _encode_cursor(nxt) if nxt < total else None},
        )
    raise BadRequest(
        404,
        {
            "error": "not_found",
            "error_description": "data API routes: items, offset, cursor, links, linkheader, "
            "version, reports",
        },
    )


# --------------------------------------------------------------------- report jobs
def _report_request(state: SandboxState, request: Request) -> tuple[str, int]:
    """``(name, records)`` from a report creation body (empty, or a JSON object)."""
    body: Any = {}
    if request.body.strip():
        if request.media_type != "application/json":
            raise _invalid("the report request body must be a JSON object (application/json)")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _invalid("the report request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _invalid("the report request body must be a JSON object")
    name = body.get("name", "daily")
    if not isinstance(name, str) or not name:
        raise _invalid("name must be a non-empty string")
    records = body.get("records", state.dataset_size)
    if (
        not isinstance(records, int)
        or isinstance(records, bool)
        or not 0 <= records <= state.dataset_size
    ):
        raise _invalid(f"records must be an integer 0..{state.dataset_size}")
    return name, records


def _invalid(description: str, status: int = 400, error: str = "invalid_request") -> BadRequest:
    return BadRequest(status, {"error": error, "error_description": description})


def _report_body(report: Report, status_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": report.id,
        "name": report.name,
        "status": report.status,
        "records": report.records,
        "polls": report.polls,
        "status_url": status_url,
    }
    if report.status == "ready":
        body["download_url"] = status_url + "/download"
    elif report.status == "failed":
        body["reason"] = "the report job failed (a fault injected into the sandbox)"
    return body


def _handle_report(
    state: SandboxState, request: Request, vendor: str, issued: Issued, route: str
) -> Reply:
    """Create (``POST reports``), poll (``reports/{id}``) or download a report job."""
    reports_url = f"{request.base_url}/{vendor}/api/reports"
    if route == "reports":  # POST
        name, records = _report_request(state, request)
        job = state.create_report(vendor, issued.client_id, name, records)
        status_url = f"{reports_url}/{job.id}"
        return json_reply(202, _report_body(job, status_url), [(b"location", status_url.encode())])
    parts = route.split("/")
    report = state.find_report(vendor, issued.client_id, parts[1]) if len(parts) > 1 else None
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "download"):
        raise _invalid(
            "report routes: POST reports, GET reports/{id}, GET reports/{id}/download",
            404,
            "not_found",
        )
    if report is None:
        raise _invalid(
            f"no report {parts[1]!r} for this client: create one with POST {reports_url}",
            404,
            "report_not_found",
        )
    status_url = f"{reports_url}/{report.id}"
    if len(parts) == 2:
        state.poll_report(report)
        return json_reply(200, _report_body(report, status_url))
    if report.status == "failed":
        raise _invalid(f"report {report.id} failed: create a new one", 409, "report_failed")
    if report.status != "ready":
        raise _invalid(
            f"report {report.id} is {report.status}: poll GET {status_url} until it is ready",
            409,
            "report_not_ready",
        )
    state.count_report_download()
    if request.query.get("format") == "jsonl":
        size = state.record_bytes
        lines = b"".join(_record_json(i, size) + b"\n" for i in range(report.records))
        return Reply(200, lines, content_type=b"application/x-ndjson")
    page = _int_param(request, "page", 1, 1, None)
    per_page = _int_param(request, "per_page", _DEFAULT_PAGE, 1, _MAX_PAGE)
    items = _slice(state, (page - 1) * per_page, per_page, report.records)
    pages = (report.records + per_page - 1) // per_page
    return _items_reply(
        items, {"page": page, "per_page": per_page, "total": report.records, "pages": pages}
    )
