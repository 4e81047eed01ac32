"""Passages through the real broker are forgotten for real: after their window, no byte of a compliant
car's plate or image is left in any database file (SQLite: the whole data directory, keys and WAL
included, as tests/central/test_erasure.py does; PostgreSQL: the cluster's files after a CHECKPOINT),
while the section infraction keeps both signed passages and both images."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from speedledger.central.bootstrap import Central, Settings, bootstrap, build_ingest
from speedledger.central.infractions import queries
from speedledger.central.ingest.queries import evidence_for_violation
from speedledger.central.ingest.settings import IngestSettings
from speedledger.central.ingest.tables import passage_images
from speedledger.central.sections.commands import CreateSection
from speedledger.central.sections.retention import HOUR_MS
from tests.central.conftest import FakeClock
from tests.central.test_erasure import files_holding
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.postgres import PostgresCluster
from tests.ingest.harness import RadarClient, SigningRadar

pytestmark = pytest.mark.mosquitto

SPEEDING, COMPLIANT = "SP482QK", "CQ771LM"


def jpeg(label: str) -> bytes:
    return b"\xff\xd8\xff\xe0" + f"picture-of-{label}-{uuid.uuid4().hex}".encode() + b"\xff\xd9"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def central(database_url: str, tmp_path: Path) -> Iterator[tuple[Central, FakeClock]]:
    clock = FakeClock(now_ms())
    # Two hours: the section's longest travel time (1 h) plus an hour to pair, whatever the wall clock says.
    settings = Settings(db_url=database_url, secret="x" * 32, demo=True, passage_retention_hours=2)
    central = bootstrap(settings, clock=clock)
    try:
        yield central, clock
    finally:
        central.close()


def _send(client: RadarClient, message: dict[str, Any], image: bytes) -> None:
    client.send(message, suffix="passages")
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    client.publish(f"evidence/{message['event_id']}", image)


def _wait_sealed(central: Central, event_ids: list[str]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with central.engine.connect() as conn:
            rows = conn.execute(select(passage_images.c.event_id).where(passage_images.c.sealed.is_not(None))).all()
        if {row.event_id for row in rows} >= set(event_ids):
            return
        time.sleep(0.05)
    raise TimeoutError("the passages' images were not stored")


def _database_files(central: Central, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The directory holding every file of central's databases."""
    if central.engine.dialect.name == "sqlite":
        return tmp_path
    with central.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.data_dir


def test_after_the_window_no_byte_of_a_compliant_car_is_left(
    central: tuple[Central, FakeClock],
    mosquitto: Mosquitto,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    central_, clock = central
    entry, exit = SigningRadar("FR-A7-201"), SigningRadar("FR-A7-202")
    for radar in (entry, exit):
        central_.bus.handle(radar.registration())
    central_.bus.handle(
        CreateSection(
            section_id="A7-S1", entry_radar_id=entry.radar_id, exit_radar_id=exit.radar_id, distance_m=10_000,
            speed_limit_kmh=110,
        )
    )  # fmt: skip
    start = now_ms() - 700_000
    images = {label: jpeg(label) for label in ("speeding-entry", "speeding-exit", "compliant-entry", "compliant-exit")}

    def trip(car: str, plate: str, seconds: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """An entry and an exit `seconds` apart (10 km), each signing its own image."""
        return tuple(  # type: ignore[return-value]
            radar.passage(
                plate=plate, passed_at_ms=at_ms, image_sha256=hashlib.sha256(images[f"{car}-{end}"]).hexdigest()
            )
            for radar, at_ms, end in ((entry, start, "entry"), (exit, start + seconds * 1000, "exit"))
        )

    trips = {"speeding": trip("speeding", SPEEDING, 250), "compliant": trip("compliant", COMPLIANT, 600)}
    settings = IngestSettings(
        mqtt_url=mosquitto.url, client_id=f"central-{uuid.uuid4().hex[:8]}", config_key_path=tmp_path / "key.pem"
    )
    ingest = build_ingest(central_, settings)
    ingest.start(wait_s=10)
    clients = {radar.radar_id: RadarClient(mosquitto.port, radar.radar_id) for radar in (entry, exit)}
    try:
        for car, (entry_passage, exit_passage) in trips.items():
            _send(clients[entry.radar_id], entry_passage, images[f"{car}-entry"])
            _send(clients[exit.radar_id], exit_passage, images[f"{car}-exit"])
        _wait_sealed(central_, [message["event_id"] for trip in trips.values() for message in trip])
    finally:
        for client in clients.values():
            client.close()
        ingest.stop()
    forgetting = central_.forgetting
    assert forgetting.run_once().kept_images == 2  # the infraction's two images, out of the window's reach
    compliant = (COMPLIANT.encode(), images["compliant-entry"], images["compliant-exit"])
    assert files_holding(_database_files(central_, tmp_path, request), compliant) == {}  # sealed from the start
    keys = [central_.vault.get_key(window.subject) for window in central_.passages.windows()]
    assert keys and None not in keys

    clock.now += 4 * HOUR_MS  # past the window's end plus the retention
    closed = forgetting.run_once()
    assert (closed.windows, closed.forgotten) == (len(keys), 2)
    # PostgreSQL keeps a deleted row (a key) in its WAL and pages until they are recycled (docs/sections.md).
    needles = (*compliant, *keys) if central_.engine.dialect.name == "sqlite" else compliant
    assert files_holding(_database_files(central_, tmp_path, request), needles) == {}
    with central_.engine.connect() as conn:
        (infraction,) = queries.list_infractions(conn).items
        detail = queries.get_infraction(conn, infraction.infraction_id, central_.cipher)
        assert detail is not None and (detail.entry_device_message, detail.device_message) == trips["speeding"]
        for message, label in zip(trips["speeding"], ("speeding-entry", "speeding-exit"), strict=True):
            evidence = evidence_for_violation(conn, message["event_id"], now_ms=clock())
            assert (evidence.status, evidence.content) == ("received", images[label])
        assert conn.execute(select(passage_images)).all() == []
