"""Secrets never reach the logs: the database password at start-up, bound parameters of failing SQL."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest
from sqlalchemy import text

from speedledger.central.bootstrap import Central
from speedledger.central.registration.events import owner_stream
from tests.central.conftest import World, start_demo_central

PASSWORD = "pw-never-in-logs-7f3a"


@pytest.mark.postgres
def test_start_up_shows_the_database_without_its_password(postgres_url: str, tmp_path: Path) -> None:
    with_password = postgres_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)
    assert PASSWORD in with_password
    process = start_demo_central({"SPEEDLEDGER_DB": with_password, "SPEEDLEDGER_HTTP": "127.0.0.1:0"}, tmp_path)
    try:
        assert process.stdout is not None
        lines = []
        while not any(line.startswith("speedledger central:") for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines) + rest
    assert PASSWORD not in output
    assert "postgresql://postgres:***@127.0.0.1" in output


def test_a_failing_projection_batch_logs_no_bound_parameters(
    central: Central, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with central.store.transaction() as tx:
        tx.connection.execute(text("DROP TABLE owners"))
    with caplog.at_level(logging.DEBUG):
        owner_id = world.owner("Quirinus Zeelandt", "q.zeelandt@logs.example")
    (registered,) = central.store.read_stream(owner_stream(owner_id))
    logged = caplog.text + "".join(str(record.exc_info) for record in caplog.records)
    assert "owners" in logged  # the failing statement was reported ...
    assert registered.data["personal_data"] not in logged  # ... without its parameters
    assert "q.zeelandt" not in logged and "Zeelandt" not in logged
