"""The edge agent against the real central ingest (event store on SQLite) through a real mosquitto.

Interoperability of the two halves of the contract: signatures, topics, evidence, acks after commit,
the central-signed config, and a broker restart in the middle.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from speedledger.central.bootstrap import Central, Settings, bootstrap, build_ingest
from speedledger.central.ingest.settings import IngestSettings
from speedledger.central.ingest.tables import create_tables
from speedledger.central.radars.commands import RegisterRadar
from speedledger.edge.agent.camera import Frame
from speedledger.edge.agent.loop import AgentLoop
from speedledger.edge.agent.radar_agent import RadarAgent
from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.core.violation import SpeedPolicy
from speedledger.edge.mqtt_transport import MqttTransport
from speedledger.edge.signing import CryptographySigner, verify
from speedledger.shared import keys
from tests.fixtures.metrology import VERIFIED
from tests.fixtures.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto

RADAR = "FR-INTEROP-1"


class StillCamera:
    def __init__(self) -> None:
        image = np.full((48, 64, 3), 128, np.uint8)
        ok, jpeg = cv2.imencode(".jpg", image)
        assert ok
        self.frame = Frame(jpeg.tobytes(), image)

    def frame_at(self, t_ms: int) -> Frame | None:
        return self.frame


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    central = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/central.db", secret="x" * 32, demo=True))
    create_tables(central.engine)
    yield central
    central.close()


def test_agent_and_central_ingest_agree_through_a_broker_restart(
    central: Central, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    signer = CryptographySigner.from_seed(bytes(range(1, 33)))
    central.bus.handle(
        RegisterRadar(
            radar_id=RADAR,
            name="interop",
            latitude=48.85,
            longitude=2.35,
            speed_limit_kmh=70,
            public_key=keys.b64encode(signer.public_key),
            metrology=(VERIFIED,),
        )
    )
    ingest = build_ingest(
        central,
        IngestSettings(
            mqtt_url=mosquitto.url,
            client_id=f"central-{uuid.uuid4().hex[:8]}",
            config_key_path=tmp_path / "config-key.pem",
        ),
    )
    ingest.start(wait_s=10)
    journal = Journal(str(tmp_path / "journal"))
    transport = MqttTransport(mosquitto.url, RADAR, "interop-1.0", min_reconnect_s=1, max_reconnect_s=1)
    config = ConfigState(RADAR, SpeedPolicy(90), ingest.config_key.public_key, verify)
    agent = RadarAgent(RADAR, "interop-1.0", signer, journal, Outbox(journal, RADAR, transport), config, StillCamera())
    loop = AgentLoop(agent, transport)
    transport.start()

    def until(condition: object, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():  # type: ignore[operator]
            assert time.monotonic() < deadline, "condition not met in time"
            loop.pump(wait_s=0.05)

    def violation(speed_kmh: float) -> None:
        t_ms = int(time.time() * 1000)
        assert agent.on_pass(VehiclePass(0, speed_kmh, "approaching", 20.0, 12, -100, 100), t_ms) is not None

    try:
        until(lambda: agent.config.policy.speed_limit_kmh == 70)  # central's signed, retained config
        violation(85.0)  # over 70 only with central's limit: 85 - 5 = 80 > 70
        until(lambda: not journal.pending())

        mosquitto.stop()
        until(lambda: not agent.outbox.connected)
        violation(95.0)
        violation(120.0)
        mosquitto.start()
        until(lambda: not journal.pending())
        assert agent.outbox.acked == {"accepted": 3, "duplicate": 0, "rejected": 0}
        assert agent.stats.configs_refused == 0
        recorded = [event for event in central.store.read_all() if event.stream_id.startswith("violation-")]
        assert sorted(event.stream_id for event in recorded) == [f"violation-{RADAR}-{seq}" for seq in (1, 2, 3)]
        assert {event.data["message"]["speed_limit_kmh"] for event in recorded} == {70}
    finally:
        transport.stop()
        ingest.stop()
