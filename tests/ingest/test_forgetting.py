"""Passages through the real broker are forgotten for real: after their window, no byte of a compliant
car's plate or image is left in any database file (SQLite: the whole data directory, keys and WAL
included, as tests/central/test_erasure.py does; PostgreSQL: the cluster's files after a CHECKPOINT),
also when the images come first, as the radar agent sends them; an image that nothing claims is as
unreadable. The section infraction keeps both signed passages and both images: from its issuance on,
and whenever its images arrive, even after the window closed."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from speedledger.central.bootstrap import Central, Settings, bootstrap, build_ingest
from speedledger.central.infractions import queries
from speedledger.central.ingest.queries import evidence_for_violation
from speedledger.central.ingest.service import Ingest
from speedledger.central.ingest.settings import IngestSettings
from speedledger.central.ingest.tables import early_images, evidence_arrivals, passage_images
from speedledger.central.sections.commands import CreateSection
from speedledger.central.sections.retention import HOUR_MS, Window
from tests.central.conftest import FakeClock
from tests.central.test_erasure import files_holding
from tests.fixtures.mosquitto import Mosquitto, free_port
from tests.fixtures.postgres import PostgresCluster
from tests.ingest.harness import RadarClient, SigningRadar

pytestmark = pytest.mark.mosquitto

SPEEDING, COMPLIANT = "SP482QK", "CQ771LM"
Trip = tuple[dict[str, Any], dict[str, Any]]


def jpeg(label: str) -> bytes:
    return b"\xff\xd8\xff\xe0" + f"picture-of-{label}-{uuid.uuid4().hex}".encode() + b"\xff\xd9"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """The broker with its persistence out of the databases' directory: what the broker keeps is the
    broker's (docs/sections.md), and its autosave would otherwise land among the files searched."""
    broker = Mosquitto(port=free_port(), workdir=tmp_path_factory.mktemp("broker"))
    broker.start()
    yield broker
    broker.stop()


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


@dataclass
class Road:
    """A section's two radars on the broker, a speeding and a compliant trip over it, and their images."""

    central: Central
    clients: dict[str, RadarClient]
    trips: dict[str, Trip]
    images: dict[str, bytes]

    def send(self, message: dict[str, Any]) -> None:
        client = self.clients[message["radar_id"]]
        client.send(message, suffix="passages")
        assert client.ack_for(message["event_id"])["result"] == "accepted"

    def send_trips(self) -> None:
        """Both trips' passages, each accepted."""
        for message in self.passages():
            self.send(message)

    def passages(self) -> list[dict[str, Any]]:
        return [message for trip in self.trips.values() for message in trip]

    def send_image(self, label: str) -> None:
        """The image `label` ("speeding-exit"...) of its trip's passage, once the ingest has taken it."""
        car, end = label.split("-")
        message = self.trips[car][0 if end == "entry" else 1]
        self.clients[message["radar_id"]].publish(f"evidence/{message['event_id']}", self.images[label])
        _wait_stored(self.central, evidence_arrivals, [message["event_id"]])

    def evidence(self, car: str) -> list[tuple[str, bytes | None]]:
        with self.central.engine.connect() as conn:
            found = [evidence_for_violation(conn, m["event_id"], now_ms=now_ms()) for m in self.trips[car]]
        return [(evidence.status, evidence.content) for evidence in found]


@pytest.fixture
def road(central: tuple[Central, FakeClock], mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Road]:
    central_, _ = central
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

    def trip(car: str, plate: str, seconds: int) -> Trip:
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
    ingest: Ingest = build_ingest(central_, settings)
    ingest.start(wait_s=10)
    clients = {radar.radar_id: RadarClient(mosquitto.port, radar.radar_id) for radar in (entry, exit)}
    try:
        yield Road(central_, clients, trips, images)
    finally:
        for client in clients.values():
            client.close()
        ingest.stop()


def _wait_stored(central: Central, table: Any, event_ids: list[str]) -> None:
    """Until `table` has a row for each of `event_ids` (the ingest works on its own thread)."""
    deadline = time.monotonic() + 10
    condition = passage_images.c.sealed.is_not(None) if table is passage_images else table.c.event_id.is_not(None)
    while time.monotonic() < deadline:
        with central.engine.connect() as conn:
            rows = conn.execute(select(table.c.event_id).where(condition)).all()
        if {row.event_id for row in rows} >= set(event_ids):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the ingest did not store {event_ids} in {table.name}")


def _database_files(central: Central, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The directory holding every file of central's databases."""
    if central.engine.dialect.name == "sqlite":
        return tmp_path
    with central.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.data_dir


def test_after_the_window_no_byte_of_a_compliant_car_is_left(
    central: tuple[Central, FakeClock], road: Road, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    central_, clock = central
    road.send_trips()
    for label in road.images:
        road.send_image(label)
    _wait_stored(central_, passage_images, [message["event_id"] for message in road.passages()])
    forgetting = central_.forgetting
    assert forgetting.run_once().kept_images == 0  # kept when the infraction was decided: nothing to repair
    images = road.images
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
        assert detail is not None and (detail.entry_device_message, detail.device_message) == road.trips["speeding"]
        assert conn.execute(select(passage_images).where(passage_images.c.sealed.is_not(None))).all() == []
    assert road.evidence("speeding") == [("received", images["speeding-entry"]), ("received", images["speeding-exit"])]


def test_an_infractions_images_are_in_its_evidence_from_its_issuance(
    central: tuple[Central, FakeClock], road: Road
) -> None:
    """Without the forgetting's periodic run: an image that arrived before the infraction is kept when it
    is decided, one that arrives after it is kept on arrival."""
    central_, _ = central
    entry, exit = road.trips["speeding"]
    road.send(entry)
    road.send_image("speeding-entry")
    road.send(exit)
    _wait_stored(central_, passage_images, [entry["event_id"]])
    central_.runner.catch_up()  # what central's projection runner does as the passages are recorded
    with central_.engine.connect() as conn:
        (infraction,) = queries.list_infractions(conn).items
    assert infraction.exit_event_id == exit["event_id"]
    assert road.evidence("speeding") == [("received", road.images["speeding-entry"]), ("pending", None)]
    road.send_image("speeding-exit")
    assert road.evidence("speeding")[1] == ("received", road.images["speeding-exit"])
    assert central_.forgetting.run_once().kept_images == 0  # nothing left for the repair: no second copy


def test_a_late_image_is_kept_for_an_infraction_and_dropped_for_a_forgotten_passage(
    central: tuple[Central, FakeClock], road: Road, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Images arriving after their window is due (not yet closed, then closed: a radar offline for hours)."""
    central_, clock = central
    road.send_trips()
    central_.runner.catch_up()
    with central_.engine.connect() as conn:
        (infraction,) = queries.list_infractions(conn).items
    assert infraction.entry_event_id == road.trips["speeding"][0]["event_id"]
    # The trips fall in one window, or two when they straddle a window boundary (wall-clock time).
    windows = len(central_.passages.windows())
    assert windows in (1, 2)
    clock.now += 4 * HOUR_MS  # the windows are due
    road.send_image("speeding-entry")
    road.send_image("compliant-entry")
    assert central_.forgetting.run_once().windows == windows  # now closed
    road.send_image("speeding-exit")
    road.send_image("compliant-exit")
    images = road.images
    assert road.evidence("speeding") == [("received", images["speeding-entry"]), ("received", images["speeding-exit"])]
    assert [content for _, content in road.evidence("compliant")] == [None, None]
    compliant = (COMPLIANT.encode(), images["compliant-entry"], images["compliant-exit"])
    assert files_holding(_database_files(central_, tmp_path, request), compliant) == {}


def test_images_sent_before_their_passages_are_never_in_clear(
    central: tuple[Central, FakeClock], road: Road, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The radar agent publishes a passage's image before the passage (edge outbox): the image waits sealed,
    then is sealed under its passage's window; no byte of a compliant car reaches a database file."""
    central_, clock = central
    for label in road.images:
        road.send_image(label)
    images = road.images
    compliant = (COMPLIANT.encode(), images["compliant-entry"], images["compliant-exit"])
    files = _database_files(central_, tmp_path, request)
    with central_.engine.connect() as conn:
        assert len(conn.execute(select(early_images)).all()) == 4  # waiting, sealed
    assert files_holding(files, compliant) == {}
    road.send_trips()
    _wait_stored(central_, passage_images, [message["event_id"] for message in road.passages()])
    with central_.engine.connect() as conn:
        assert conn.execute(select(early_images)).all() == []  # each claimed by its passage
    run = central_.forgetting.run_once()
    assert (run.claimed_images, run.kept_images) == (0, 0)  # all done in the ingest's transactions
    assert files_holding(_database_files(central_, tmp_path, request), compliant) == {}
    keys = [central_.vault.get_key(window.subject) for window in central_.passages.windows()]

    clock.now += 4 * HOUR_MS
    closed = central_.forgetting.run_once()
    assert (closed.windows, closed.forgotten, closed.unclaimed_images) == (len(keys), 2, 0)
    needles = (*compliant, *keys) if central_.engine.dialect.name == "sqlite" else compliant
    assert files_holding(_database_files(central_, tmp_path, request), needles) == {}
    assert road.evidence("speeding") == [("received", images["speeding-entry"]), ("received", images["speeding-exit"])]
    assert [content for _, content in road.evidence("compliant")] == [None, None]


def test_an_image_nothing_claims_is_unreadable_after_its_window(
    central: tuple[Central, FakeClock], road: Road, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """An image whose passage never comes (lost, or refused) is kept sealed under the window of its arrival,
    and goes with that window's key."""
    central_, clock = central
    road.send_image("compliant-entry")
    event_id = road.trips["compliant"][0]["event_id"]
    with central_.engine.connect() as conn:
        (waiting,) = conn.execute(select(early_images)).all()
    window = Window.parse(waiting.window)
    assert window == central_.passages.current()
    assert central_.passages.open(window, bytes(waiting.sealed), event_id) == road.images["compliant-entry"]
    assert central_.forgetting.run_once().unclaimed_images == 0  # its window is open
    key = central_.vault.get_key(window.subject)
    assert key is not None

    clock.now = central_.passages.closes_at_ms(window)
    closed = central_.forgetting.run_once()
    assert (closed.windows, closed.forgotten, closed.unclaimed_images) == (1, 0, 1)
    assert central_.vault.get_key(window.subject) is None
    assert central_.passages.open(window, bytes(waiting.sealed), event_id) is None  # any copy of the envelope
    with central_.engine.connect() as conn:
        assert conn.execute(select(early_images)).all() == []
    needles = (road.images["compliant-entry"], key)
    if central_.engine.dialect.name != "sqlite":
        needles = needles[:1]  # PostgreSQL keeps a deleted key in its WAL until recycled (docs/sections.md)
    assert files_holding(_database_files(central_, tmp_path, request), needles) == {}
