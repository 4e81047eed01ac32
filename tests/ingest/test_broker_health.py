"""/health and /metrics tell whether central's ingest holds its broker session, and why not (issue 11)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from speedledger.central.bootstrap import Central, build_ingest
from speedledger.central.entrypoints.api import create_app
from speedledger.central.ingest.service import Ingest
from speedledger.central.ingest.settings import IngestSettings
from tests.fixtures.mosquitto import Mosquitto
from tests.ingest.harness import eventually


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the broker connection does not depend on the store."""
    return f"sqlite:///{tmp_path / 'central.db'}"


def test_health_and_metrics_follow_the_broker_connection(
    central: Central, ingest: Ingest, mosquitto: Mosquitto
) -> None:
    with TestClient(create_app(central, broker=ingest.session.state)) as client:
        report = client.get("/health").json()
        assert report["status"] == "ok" and report["broker"] == {"connected": True, "error": None}
        assert "speedledger_mqtt_connected 1.0" in client.get("/metrics").text
        mosquitto.stop()
        eventually(lambda: not client.get("/health").json()["broker"]["connected"], timeout_s=20)
        report = client.get("/health").json()
        assert report["status"] == "degraded" and report["broker"]["error"]
        assert "speedledger_mqtt_connected 0.0" in client.get("/metrics").text
        mosquitto.start()
        eventually(lambda: client.get("/health").json()["status"] == "ok", timeout_s=20)


def test_two_centrals_with_one_client_id_are_told_so(central: Central, mosquitto: Mosquitto, tmp_path: Path) -> None:
    settings = IngestSettings(
        mqtt_url=mosquitto.url, client_id=f"twin-{uuid.uuid4().hex[:8]}", config_key_path=tmp_path / "key.pem"
    )
    first, second = build_ingest(central, settings), build_ingest(central, settings)
    first.start(wait_s=10)
    second.start(wait_s=10)
    try:
        eventually(
            lambda: any("client id" in (ingest.session.state().error or "") for ingest in (first, second)), timeout_s=20
        )
    finally:
        second.stop()
        first.stop()
