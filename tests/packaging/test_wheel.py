"""The wheel installs one `speedledger` namespace and nothing at top level called `shared` or `central`."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
    )
    (built,) = out.glob("speedledger-*.whl")
    return built


def test_wheel_has_only_the_speedledger_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.startswith("speedledger-")}
    assert top_level == {"speedledger"}
    for part in ("central", "edge", "simulator", "shared"):
        assert f"speedledger/{part}/__init__.py" in names
    assert "speedledger/shared/canonical.py" in names


def test_wheel_installs_into_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    probe = (
        "import importlib.util as u, speedledger.shared.canonical as c;"
        "assert u.find_spec('shared') is None and u.find_spec('central') is None;"
        f"assert c.__file__.startswith({str(env_dir)!r});"
        "print(c.dumps({'b': 1, 'a': 'x'}).decode())"
    )
    result = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip() == '{"a":"x","b":1}'
