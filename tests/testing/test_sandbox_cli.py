"""`vendorgate sandbox`: starts, prints its URL or config, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.slow


def _start(*flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vendorgate", "sandbox", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_prints_url_serves_and_stops_on_sigterm():
    """The CLI prints its URL, answers on it, and exits 0 on SIGTERM."""
    proc = _start("--port", "0")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/ping").json() == {"ok": True}
    finally:
        code = _stop(proc)
    assert code == 0
    assert proc.stderr.read() == ""


def test_cli_print_config_is_json_with_vendors():
    """--print-config prints one JSON line with token URLs, audiences and demo credentials."""
    proc = _start("--print-config", "--dataset-size", "3")
    try:
        config = json.loads(proc.stdout.readline())
        lonewolf = config["vendors"]["lonewolf"]
        r = httpx.post(
            lonewolf["token_url"],
            json={
                "grant_type": "client_credentials",
                "client_id": lonewolf["client_id"],
                "client_secret": lonewolf["client_secret"],
                "audience": lonewolf["audience"],
            },
        )
        assert r.status_code == 200
        assert config["dataset_size"] == 3
    finally:
        assert _stop(proc) == 0


def test_cli_bad_flag_exits_2_with_one_line():
    """A bad flag value exits 2 with a one-line message."""
    result = subprocess.run(
        [sys.executable, "-m", "vendorgate", "sandbox", "--port", "http"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--port" in result.stderr


def test_cli_busy_port_exits_2():
    """A port already in use exits 2 with a one-line message naming --port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "vendorgate", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "--port" in result.stderr.strip().splitlines()[-1]
