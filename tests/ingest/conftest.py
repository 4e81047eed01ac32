"""Fixtures for ingest tests: a bootstrapped central on SQLite, a running ingest on real mosquitto."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from speedledger.central.bootstrap import Central, Settings, bootstrap, build_ingest
from speedledger.central.ingest.projection import EvidenceProjection
from speedledger.central.ingest.service import Ingest
from speedledger.central.ingest.settings import IngestSettings
from speedledger.central.ingest.tables import create_tables
from speedledger.central.projections.runner import ProjectionRunner
from tests.fixtures.mosquitto import Mosquitto
from tests.ingest.harness import RadarClient, SigningRadar


@pytest.fixture
def central(database_url: str) -> Iterator[Central]:
    """Central on SQLite and on PostgreSQL (`database_url` from tests/fixtures/postgres.py)."""
    settings = Settings(db_url=database_url, secret="x" * 32, demo=True)
    central = bootstrap(settings)
    create_tables(central.engine)
    yield central
    central.close()


@pytest.fixture
def register(central: Central) -> Callable[[str], SigningRadar]:
    def register(radar_id: str) -> SigningRadar:
        radar = SigningRadar(radar_id)
        central.bus.handle(radar.registration(f"test {radar_id}"))
        return radar

    return register


@pytest.fixture
def ingest_settings(mosquitto: Mosquitto, tmp_path: Path) -> IngestSettings:
    return IngestSettings(
        mqtt_url=mosquitto.url,
        client_id=f"central-test-{uuid.uuid4().hex[:8]}",
        config_key_path=tmp_path / "config-key.pem",
    )


@pytest.fixture
def ingest(central: Central, ingest_settings: IngestSettings) -> Iterator[Ingest]:
    ingest = build_ingest(central, ingest_settings)
    ingest.start(wait_s=10)
    assert ingest.session.connected
    yield ingest
    ingest.stop()


@pytest.fixture
def evidence_runner(central: Central) -> Iterator[ProjectionRunner]:
    """The evidence projection alone."""
    runner = ProjectionRunner(central.store, [EvidenceProjection(central.passages)])
    runner.setup()
    yield runner
    runner.close()


@pytest.fixture
def radar_client(mosquitto: Mosquitto) -> Callable[[str], RadarClient]:
    clients: list[RadarClient] = []

    def connect(radar_id: str) -> RadarClient:
        client = RadarClient(mosquitto.port, radar_id)
        clients.append(client)
        return client

    yield connect  # type: ignore[misc]
    for client in clients:
        client.close()
