"""Commands that need an optional extra say how to install it."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Runs the CLI with uvicorn (the testing extra's server) made unimportable.
_WITHOUT_UVICORN = (
    "import sys; sys.modules['uvicorn'] = None; "
    "from vendorgate.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_command_without_the_testing_extra_says_how_to_install_it(command: str) -> None:
    """`vendorgate sandbox` (or demo) without the testing extra names the pip command."""
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_UVICORN, command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert "pip install 'vendorgate[testing]'" in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
