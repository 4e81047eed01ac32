"""`make demo` end to end: embedded broker + central + the real radar agent, as a user runs it."""

import subprocess
import sys
from pathlib import Path


def test_demo_shows_the_system_end_to_end(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger.demo"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = completed.stdout
    assert completed.returncode == 0, output + completed.stderr
    assert "acks: 3 accepted, 0 duplicate, 0 rejected; 0 pending" in output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if line.startswith("│ ")}
    assert "Alice Martin" in rows["GZ123QK"] and "issued" in rows["GZ123QK"]
    assert "Bob Durand" in rows["AB456CD"], "charged to the owner at detection time, after the transfer"
    assert "unidentified" in rows["EF789GH"]
    assert "reason bad_signature" in output
    assert "verdict: VERIFIED" in output, "the exported evidence checks offline"
