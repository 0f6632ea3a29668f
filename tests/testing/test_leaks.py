"""The secret-leak scanner finds a value in every form a run may leave it in."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from vendorgate import Secret
from vendorgate.testing import LeakFound, LeakScanner, VendorSandbox
from vendorgate.testing.leaks import fingerprint

SECRET = "s3cr3t/with+odd chars&é~~~?>?!"  # 31 bytes: padded, with + and / in base64
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlLXZhbHVl"


def _forms(text: str) -> set[str]:
    scanner = LeakScanner(secrets={"client_secret": SECRET}, tokens=[TOKEN])
    return {leak.form for leak in scanner.scan_text(text, "t")}


@pytest.mark.parametrize(
    ("encoded", "form"),
    [
        (SECRET, "raw"),
        (json.dumps({"v": SECRET})[6:-2], "json"),
        (json.dumps(json.dumps({"v": SECRET})), "json"),
        (SECRET.replace("/", "\\/"), "json"),
        (quote(SECRET, safe=""), "percent"),
        (re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(SECRET, safe="")), "percent"),
        (quote_plus(SECRET, safe=""), "form"),
        (base64.b64encode(SECRET.encode()).decode(), "base64"),
        (base64.b64encode(SECRET.encode()).decode().rstrip("="), "base64-unpadded"),
        (base64.urlsafe_b64encode(SECRET.encode()).decode(), "base64url"),
        (base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="), "base64url-unpadded"),
    ],
)
def test_each_encoding_is_found(encoded: str, form: str) -> None:
    """A secret written in any common encoding is reported with that encoding's name."""
    assert form in _forms(f"prefix {encoded} suffix")


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_value_inside_a_larger_base64_blob_is_found(offset: int, urlsafe: bool) -> None:
    """A secret serialised inside a bigger binary blob (a pickled result) is found at any offset."""
    blob = b"\x80\x04" + b"x" * offset + SECRET.encode() + b"\xfe trailing bytes"
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    forms = _forms(encode(blob).decode())
    assert forms == {"base64url-in-blob" if urlsafe else "base64-in-blob"}


def test_base64_wrapped_at_76_columns_is_found(tmp_path: Path) -> None:
    """A result stored as base64 with line breaks every 76 characters (Prefect) is found."""
    blob = pickle.dumps({"rows": list(range(40)), "auth": TOKEN, "more": "y" * 200})
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"data": base64.encodebytes(blob).decode()}))
    assert "\\n" in path.read_text()  # line breaks JSON-escaped, as in a result file
    scanner = LeakScanner(tokens=[TOKEN])
    (leak,) = scanner.scan_file(path)
    assert leak.form == "base64-in-blob-wrapped"
    assert leak.where.startswith(str(path))


def test_real_line_breaks_in_base64_are_found() -> None:
    """Base64 wrapped with real newlines (MIME style) is found too."""
    text = base64.encodebytes(b"z" * 70 + TOKEN.encode()).decode()
    assert any(f.endswith("-wrapped") for f in _forms(text))


def test_clean_tree_passes(tmp_path: Path) -> None:
    """A directory with no secret in it passes assert_clean."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "log.txt").write_text("token fetched (sha256:abcd), 100 records\n" * 50)
    (tmp_path / "out.jsonl").write_bytes(b'{"id": 1}\n{"id": 2}\n' + bytes(range(256)))
    scanner = LeakScanner(secrets=[SECRET], tokens=[TOKEN])
    assert scanner.scan_tree(tmp_path) == []
    scanner.assert_clean()


def test_hit_names_file_line_and_form_but_never_the_value(tmp_path: Path) -> None:
    """The failure message says where and how, and shows a fingerprint instead of the secret."""
    path = tmp_path / "sub" / "task.log"
    path.parent.mkdir()
    path.write_text("line one\nAuthorization: Bearer " + TOKEN + "\n")
    scanner = LeakScanner(secrets=[SECRET], tokens=[TOKEN])
    scanner.scan_tree(tmp_path)
    with pytest.raises(LeakFound) as info:
        scanner.assert_clean()
    message = str(info.value)
    assert f"{path}:2" in message
    assert "raw" in message
    assert fingerprint(TOKEN) in message
    for variant in (TOKEN, TOKEN[:20], SECRET):
        assert variant not in message
    assert TOKEN not in repr(scanner.leaks)


def test_mapping_paths_name_the_leaking_field() -> None:
    """A leak in an XCom value or a block document names the key path."""
    scanner = LeakScanner(secrets=Secret(SECRET))
    leaks = scanner.scan_mapping({"ok": [1, {"cfg": {"pw": SECRET}}], "n": 3}, "xcom")
    assert [leak.where for leak in leaks] == ["xcom.ok[1].cfg.pw:1"]


def test_log_records_and_exceptions_are_scanned(caplog: pytest.LogCaptureFixture) -> None:
    """Log arguments, extra fields and exception chains are searched."""
    scanner = LeakScanner(tokens=[TOKEN])
    logger = logging.getLogger("leaktest")
    with caplog.at_level(logging.DEBUG):
        logger.debug("fetched %s", "ok", extra={"payload": {"t": TOKEN}})
    assert scanner.scan_records(caplog.records)

    def fail() -> None:
        try:
            raise ValueError(quote(TOKEN))
        except ValueError as exc:
            raise RuntimeError("wrapped") from exc

    with pytest.raises(RuntimeError) as info:
        fail()
    assert scanner.scan_exception(info.value)


def test_sandbox_lists_the_tokens_it_issued(sandbox: VendorSandbox) -> None:
    """issued_tokens() returns what the vendor handed out, so a scan can look for it."""
    import httpx

    reply = httpx.post(
        sandbox.token_url("lonewolf"),
        json={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret-lonewolf",
            "audience": sandbox.audience("lonewolf"),
        },
    ).json()
    tokens = sandbox.issued_tokens("lonewolf", "demo-client")
    assert reply["access_token"] in [t.reveal() for t in tokens]
    assert sandbox.issued_tokens("tci", "nobody") == []


def test_sandbox_issued_tokens_over_http() -> None:
    """A sandbox in a subprocess lists its issued tokens through the control API too."""
    import httpx

    with VendorSandbox(process=True, dataset_size=1) as sb:
        token = httpx.post(
            sb.token_url("lonewolf"),
            json={
                "grant_type": "client_credentials",
                "client_id": "demo-client",
                "client_secret": "demo-secret-lonewolf",
                "audience": sb.audience("lonewolf"),
            },
        ).json()["access_token"]
        assert [t.reveal() for t in sb.issued_tokens()] == [token]
