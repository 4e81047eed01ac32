"""The config key that only an explicit command creates, and the demo token a user can copy."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tests.central.test_startup_errors import one_line_error, speedledger
from tests.fixtures.mosquitto import free_port


def test_a_named_config_key_is_created_only_by_the_explicit_command(tmp_path: Path) -> None:
    key = tmp_path / "typo" / "central-config-key.pem"
    env = {"SPEEDLEDGER_DB": f"sqlite:///{tmp_path / 'central.db'}", "SPEEDLEDGER_CONFIG_KEY": str(key)}
    start = speedledger("central", cwd=tmp_path, SPEEDLEDGER_HTTP=f"127.0.0.1:{free_port()}", **env)
    one_line_error(start, "SPEEDLEDGER_CONFIG_KEY", str(key), "config-key --create")
    assert not key.exists() and not key.parent.exists()
    assert speedledger("central", "config-key", cwd=tmp_path, **env).returncode == 2
    created = speedledger("central", "config-key", "--create", cwd=tmp_path, **env)
    assert created.returncode == 0, created.stderr
    again = speedledger("central", "config-key", cwd=tmp_path, **env)
    assert again.returncode == 0 and again.stdout == created.stdout
    assert key.stat().st_mode & 0o777 == 0o600


def test_the_demo_token_is_never_wrapped() -> None:
    from speedledger.demo import show_token

    out = io.StringIO()
    token = "eyJ" + "x" * 300
    show_token(Console(file=out, width=60), "http://127.0.0.1:8000", token)
    assert token in out.getvalue().splitlines()
