"""The wheel installs one `speedledger` namespace and nothing at top level called `shared` or `central`."""

import subprocess
import zipfile
from pathlib import Path

from speedledger import layout


def test_wheel_has_only_the_speedledger_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.startswith("speedledger-")}
    assert top_level == {"speedledger"}
    for part in layout.SUBPACKAGES:
        assert f"speedledger/{part}/__init__.py" in names
    assert set(layout.board_files(with_typing=True)) <= set(names)
    dashboard = "speedledger/central/entrypoints/dashboard/"
    for shipped in ("labels.json", "templates/base.html", "templates/infraction.html", "static/dashboard.js"):
        assert dashboard + shipped in names, f"the dashboard needs {shipped} in the wheel (no CDN, no build step)"


def test_wheel_installs_into_a_fresh_venv(wheel_python: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.util as u, speedledger.shared.canonical as c;"
        "assert u.find_spec('shared') is None and u.find_spec('central') is None;"
        f"assert c.__file__.startswith({str(wheel_python.parents[1])!r});"
        "print(c.dumps({'b': 1, 'a': 'x'}).decode())"
    )
    result = subprocess.run([str(wheel_python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip() == '{"a":"x","b":1}'


def test_the_installed_package_lays_out_the_board_image(wheel_python: Path, tmp_path: Path) -> None:
    image = tmp_path / "board"
    command = [str(wheel_python), "-m", "speedledger.layout", "board", str(image)]
    listed = subprocess.run(command, check=True, capture_output=True, text=True, cwd=tmp_path).stdout.split()

    copied = sorted(str(path.relative_to(image)) for path in image.rglob("*.py"))
    assert listed == list(layout.board_files()) and copied == sorted(listed)
    assert "speedledger/edge/core/radar.py" in copied and "speedledger/edge/core/ports.py" not in copied
    for device_path, source in layout.board_files().items():
        assert (image / device_path).read_bytes() == (layout.ROOT / source).read_bytes()
