"""A misconfigured central says what is wrong in one line naming the variable or file, exits 2, and
never touches the broker or creates a database first (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.mosquitto import free_port

SECRET = "startup-test-secret-" + "0123456789abcdef" * 2


def environment(**env: str) -> dict[str, str]:
    """This process's environment without any SPEEDLEDGER_ setting but a secret and `env`."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("SPEEDLEDGER_")}
    return environ | {"SPEEDLEDGER_SECRET": SECRET, **env}


def speedledger(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "speedledger", *args],
        cwd=cwd,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("SPEEDLEDGER_DB", "speedledger.db", ["SPEEDLEDGER_DB", "sqlite:///speedledger.db"]),
        ("SPEEDLEDGER_DB", "sqlite:///no/such/dir/central.db", ["SPEEDLEDGER_DB", "no/such/dir"]),
        ("SPEEDLEDGER_DB", "postgresql://nobody@127.0.0.1:{port}/central", ["SPEEDLEDGER_DB", "cannot connect"]),
        ("SPEEDLEDGER_HTTP", "localhost", ["SPEEDLEDGER_HTTP", "HOST:PORT"]),
        ("SPEEDLEDGER_HTTP", "127.0.0.1:99999", ["SPEEDLEDGER_HTTP", "65535"]),
        ("SPEEDLEDGER_FINE_SCHEDULE", "no-such-schedule.json", ["SPEEDLEDGER_FINE_SCHEDULE", "no-such-schedule.json"]),
        ("SPEEDLEDGER_MQTT", "127.0.0.1:1883", ["SPEEDLEDGER_MQTT", "mqtt://"]),
        ("SPEEDLEDGER_MQTT", "mqtt://127.0.0.1:0", ["SPEEDLEDGER_MQTT", "port"]),
        ("SPEEDLEDGER_PASSAGE_RETENTION_HOURS", "a day", ["SPEEDLEDGER_PASSAGE_RETENTION_HOURS", "'a day'"]),
        ("SPEEDLEDGER_PASSAGE_RETENTION_HOURS", "-1", ["SPEEDLEDGER_PASSAGE_RETENTION_HOURS", "positive"]),
        ("SPEEDLEDGER_PASSAGE_RETENTION_HOURS", "nan", ["SPEEDLEDGER_PASSAGE_RETENTION_HOURS", "positive"]),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, variable: str, value: str, words: list[str]) -> None:
    database = tmp_path / "central.db"
    env = {"SPEEDLEDGER_DB": f"sqlite:///{database}", "SPEEDLEDGER_HTTP": f"127.0.0.1:{free_port()}"}
    env[variable] = value.format(port=free_port())
    one_line_error(speedledger("central", cwd=tmp_path, **env), *words)
    if variable != "SPEEDLEDGER_DB":
        assert not database.exists(), "central created its database before checking every setting"


def test_a_port_in_use_is_reported_before_anything_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = speedledger(
            "central",
            "--no-ingest",
            cwd=tmp_path,
            SPEEDLEDGER_DB=f"sqlite:///{tmp_path / 'central.db'}",
            SPEEDLEDGER_HTTP=f"127.0.0.1:{port}",
        )
    one_line_error(result, "SPEEDLEDGER_HTTP", str(port))


@pytest.mark.parametrize("command", [["central", "status"], ["central", "rebuild"]])
def test_read_only_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    database = tmp_path / "typo.db"
    result = speedledger(*command, cwd=tmp_path, SPEEDLEDGER_DB=f"sqlite:///{database}")
    one_line_error(result, "SPEEDLEDGER_DB", "typo.db")
    assert not database.exists()
    unset = speedledger(*command, cwd=tmp_path)
    one_line_error(unset, "SPEEDLEDGER_DB")
    assert not (tmp_path / "speedledger.db").exists()


def test_seed_errors_name_the_entry_not_python(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"owners": [{"name": "A", "birth_date": "1980-01-01", "email": "a@b.fr", "colour": "red"}]}')
    result = speedledger("central", "seed", str(seed), cwd=tmp_path, SPEEDLEDGER_DB=f"sqlite:///{tmp_path / 'c.db'}")
    line = one_line_error(result, "owners[0]", "colour")
    assert "__init__" not in line and "keyword argument" not in line


def test_version() -> None:
    from speedledger import __version__

    result = subprocess.run([sys.executable, "-m", "speedledger", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"speedledger {__version__}"
