"""Fresh virtual environments for the packaging tests, filled by this environment's pip."""

import subprocess
import sys
import venv
from pathlib import Path


def new_venv(directory: Path) -> Path:
    """An empty virtual environment (no pip: ensurepip costs seconds); returns its python."""
    venv.EnvBuilder().create(directory)
    return directory / "bin" / "python"


def pip_install(python: Path, *arguments: str) -> None:
    """`pip install` into the environment of `python` (pip --python), quietly, without byte-compiling."""
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile", *arguments]
    subprocess.run(command, check=True, capture_output=True)
