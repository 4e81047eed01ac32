import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.venvs import new_venv, pip_install

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once without network (setuptools from the dev install)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
    )
    (built,) = out.glob("speedledger-*.whl")
    return built


@pytest.fixture(scope="session")
def wheel_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv holding the wheel alone (`--no-deps`)."""
    python = new_venv(tmp_path_factory.mktemp("wheel-venv") / "venv")
    pip_install(python, "--no-deps", str(wheel))
    return python
