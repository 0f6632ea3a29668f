"""The built wheel and sdist: what `pip install vendorgate` downloads."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = ROOT / ".tools" / "bin" / "uv"
    uv_cmd = str(uv) if uv.exists() else shutil.which("uv")
    assert uv_cmd, "uv is needed (python3 scripts/dev.py sync installs it into .tools/)"
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [uv_cmd, "build", "--quiet", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    return out


def test_wheel_ships_the_license_and_the_version(dist: Path) -> None:
    """The wheel carries LICENSE in its dist-info and the version of vendorgate.__version__."""
    import vendorgate

    (wheel,) = dist.glob("*.whl")
    assert f"vendorgate-{vendorgate.__version__}-" in wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "vendorgate/py.typed" in names


def test_sdist_ships_the_license(dist: Path) -> None:
    """The sdist carries LICENSE next to pyproject.toml."""
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    root = names[0].split("/")[0]
    assert f"{root}/LICENSE" in names
    assert f"{root}/pyproject.toml" in names
