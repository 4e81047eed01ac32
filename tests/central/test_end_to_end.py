"""From a radar's MQTT message to an infraction, as `speedledger central` wires it: real mosquitto,
the ingest, the projection runner's background thread and the process manager."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from speedledger.central.bootstrap import Central, build_ingest
from speedledger.central.infractions import queries
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.ingest.settings import IngestSettings
from tests.central.conftest import T0, FakeClock, World, make_central
from tests.fixtures.mosquitto import Mosquitto
from tests.ingest.harness import RadarClient

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def running(tmp_path: Path, clock: FakeClock, mosquitto: Mosquitto) -> Iterator[Central]:
    central = make_central(f"sqlite:///{tmp_path / 'central.db'}", clock)
    ingest = build_ingest(
        central,
        IngestSettings(
            mqtt_url=mosquitto.url,
            client_id=f"central-{uuid.uuid4().hex[:8]}",
            config_key_path=tmp_path / "config-key.pem",
        ),
    )
    ingest.start(wait_s=10)
    central.runner.start()
    try:
        yield central
    finally:
        ingest.stop()
        central.close()


def test_mqtt_violation_becomes_an_infraction(running: Central, clock: FakeClock, mosquitto: Mosquitto) -> None:
    clock.now = time.time_ns() // 1_000_000  # the ingest refuses detections from the future of its clock
    world = World(running, clock)
    radar = world.radar("FR-A6-012", 90)
    owner = world.owner()
    world.vehicle("GZ123QK", owner)
    client = RadarClient(mosquitto.port, radar.radar_id)
    try:
        message = radar.violation(detected_at_ms=T0, measured_speed_ckmh=14500)
        client.send(message)
        assert client.ack_for(message["event_id"])["result"] == "accepted"
        client.send(message)  # a re-send after a lost ack
        assert client.ack_for(message["event_id"], count=2)["result"] == "duplicate"
    finally:
        client.close()

    deadline = time.monotonic() + 10
    infraction = None
    while infraction is None and time.monotonic() < deadline:
        with running.engine.connect() as conn:
            infraction = queries.get_infraction(conn, infraction_id_for(message["event_id"]), running.cipher)
        time.sleep(0.05)
    assert infraction is not None, "the background runner did not issue the infraction"
    assert (infraction.owner_id, infraction.retained_speed_kmh, infraction.fine_eur, infraction.points) == (
        owner,
        137,
        135,
        4,
    )
    assert json.dumps(infraction.device_message, sort_keys=True) == json.dumps(message, sort_keys=True)
    assert len(running.store.read_stream(f"infraction-{infraction.infraction_id}")) == 1
