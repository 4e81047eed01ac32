"""`speedledger broker` (amqtt, MQTT 3.1.1): the zero-setup demo broker carries the same ingest."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speedledger.central.bootstrap import Central, build_ingest
from speedledger.central.entrypoints.broker import default_bind
from speedledger.central.infractions.events import violation_stream
from speedledger.central.ingest.settings import IngestSettings
from speedledger.cli import app
from tests.fixtures.mosquitto import free_port
from tests.ingest.harness import RadarClient, SigningRadar


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about the broker and processes, not the store (which has its own suite)."""
    return f"sqlite:///{tmp_path}/central.db"


@pytest.fixture
def embedded_broker(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    log = open(tmp_path / "broker.log", "wb")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(
        [sys.executable, "-m", "speedledger", "broker", "--bind", f"127.0.0.1:{port}"], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError((tmp_path / "broker.log").read_text()) from None
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(10)
    log.close()


def test_ingest_through_the_embedded_broker(
    embedded_broker: int, central: Central, register: Callable[[str], SigningRadar], tmp_path: Path
) -> None:
    radar = register("R-1")
    settings = IngestSettings(
        mqtt_url=f"mqtt://127.0.0.1:{embedded_broker}",
        client_id=f"central-{uuid.uuid4().hex[:8]}",
        config_key_path=tmp_path / "key.pem",
    )
    ingest = build_ingest(central, settings)
    ingest.start(wait_s=10)
    client = RadarClient(embedded_broker, "R-1")
    try:
        messages = [radar.violation() for _ in range(20)]
        for message in messages:
            client.send(message)
        client.wait_acks([message["event_id"] for message in messages], timeout=30)
        client.send(messages[0])
        assert client.ack_for(messages[0]["event_id"], count=2)["result"] == "duplicate"
    finally:
        client.close()
        ingest.stop()
    assert {acks[0]["result"] for acks in client.acks.values()} == {"accepted"}
    for message in messages:
        stream = central.store.read_stream(violation_stream("R-1", message["seq"]))
        assert [event.event_id for event in stream] == [message["event_id"]]


def test_thedefault_bind_is_centrals_broker_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --bind the broker listens where central's SPEEDLEDGER_MQTT says (read through its settings):
    a URL central would refuse is refused here too, in one line naming the variable."""
    monkeypatch.setenv("SPEEDLEDGER_MQTT", "mqtt://0.0.0.0:18830")
    assert default_bind() == "0.0.0.0:18830"
    monkeypatch.delenv("SPEEDLEDGER_MQTT")
    assert default_bind() == "127.0.0.1:1883"
    result = CliRunner().invoke(app, ["broker"], env={"SPEEDLEDGER_MQTT": "http://127.0.0.1:1883"})
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: SPEEDLEDGER_MQTT: unsupported MQTT URL")
