"""Each extra installs alone into a fresh venv and brings its side only.

A radar (`[edge]`) gets no web stack or database driver, central (`[central]`) no OpenCV, Tesseract
or matplotlib; a command of the side that is not installed says which extra to install, in one line.
"""

import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.packaging.venvs import new_venv, pip_install


class Extra(NamedTuple):
    name: str
    imports: tuple[str, ...]  # modules that must import with this extra alone
    absent: tuple[str, ...]  # packages of the other sides that must not be installed
    works: tuple[tuple[str, ...], ...]  # `speedledger` command lines that must succeed
    needs_other: tuple[tuple[str, ...], str]  # a command line of another side, and the extra it names


EXTRAS = (
    Extra(
        "edge",
        ("speedledger.edge.agent.runner", "speedledger.edge.dsp", "speedledger.edge.plates.tesseract"),
        ("fastapi", "psycopg", "sqlalchemy", "jwt", "uvicorn"),
        (("edge", "--help"), ("keys", "generate", "--out", "radar.pem")),
        (("central", "status"), "central"),
    ),
    Extra(
        "central",
        ("speedledger.central.bootstrap", "speedledger.central.entrypoints.api", "speedledger.central.ingest.service"),
        ("cv2", "tesserocr", "matplotlib", "numpy"),  # Pillow comes with reportlab (the notices' photo)
        (("central", "--help"), ("token", "--help")),
        (("edge", "measure", "scene.wav"), "edge"),
    ),
    Extra(
        "sim",
        ("speedledger.simulator.roadside", "speedledger.simulator.scenes"),
        ("fastapi", "psycopg", "tesserocr", "matplotlib"),
        (("--help",), ("sim", "scenarios")),
        (("token", "mint", "--role", "admin", "--subject", "x"), "central"),
    ),
)


@pytest.mark.parametrize("extra", EXTRAS, ids=[extra.name for extra in EXTRAS])
def test_an_extra_installs_and_imports_alone(extra: Extra, wheel: Path, tmp_path: Path) -> None:
    venv_python = new_venv(tmp_path / "venv")
    pip_install(venv_python, f"{wheel}[{extra.name}]")

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv_python), *arguments], capture_output=True, text=True, cwd=tmp_path)

    probe = "import importlib, importlib.util, sys\n" + "".join(
        [f"importlib.import_module({module!r})\n" for module in extra.imports]
        + [f"assert importlib.util.find_spec({package!r}) is None, {package!r}\n" for package in extra.absent]
    )
    imported = run("-c", probe)
    assert imported.returncode == 0, imported.stderr
    for command_line in extra.works:
        works = run("-m", "speedledger", *command_line)
        assert works.returncode == 0, works.stderr
    command, other = extra.needs_other
    refused = run("-m", "speedledger", *command)
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: `speedledger {command[0]}` needs the module ")
    assert line.endswith(f": pip install 'speedledger[{other}]'")
