"""docs/cli.md is the commands' own help, regenerated: it cannot drift from the code."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current(tmp_path: Path) -> None:
    generated = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "speedledger.cli", "utils", "docs", "--name", "speedledger",
         "--title", "speedledger command line", "--output", str(generated)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert generated.read_text() == (REPO / "docs" / "cli.md").read_text(), "run `make docs-cli`"
