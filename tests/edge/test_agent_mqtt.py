"""The agent against a real mosquitto: delivery, acks, broker loss, re-sends and signed config."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.edge.agent.loop import AgentLoop
from speedledger.edge.agent.radar_agent import RadarAgent
from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.core.violation import SpeedPolicy
from speedledger.edge.mqtt_transport import MqttTransport
from speedledger.edge.signing import CryptographySigner, load_signer, verify
from speedledger.shared import canonical, keys, topics
from tests.edge.fake_central import FakeCentral
from tests.fixtures.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto

RADAR = "FR-TEST-1"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "radar.pem"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


@pytest.fixture
def central(mosquitto: Mosquitto, key_file: Path) -> Iterator[FakeCentral]:
    fake = FakeCentral(mosquitto.port, load_signer(key_file).public_key)
    yield fake
    fake.close()


class Harness:
    def __init__(self, agent: RadarAgent, loop: AgentLoop, transport: MqttTransport) -> None:
        self.agent = agent
        self.loop = loop
        self.transport = transport

    def until(self, condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            self.loop.pump(wait_s=0.05)

    def violation(self, speed_kmh: float = 120.0, t_ms: int = 0) -> dict[str, object]:
        message = self.agent.on_pass(VehiclePass(t_ms, speed_kmh, "approaching", 23.5, 14, t_ms - 200, t_ms + 200),
                                     1_764_316_800_000 + t_ms)  # fmt: skip
        assert message is not None
        return message


def make_agent(
    mosquitto: Mosquitto, key_file: Path, journal_dir: Path, central_key: bytes | None = None, resend_ms: int = 30_000
) -> Harness:
    signer = load_signer(key_file)
    journal = Journal(str(journal_dir))
    transport = MqttTransport(mosquitto.url, RADAR, "test-1.0", min_reconnect_s=1, max_reconnect_s=1)
    outbox = Outbox(journal, RADAR, transport, resend_ms=resend_ms, first_resend_ms=resend_ms)
    config = ConfigState(RADAR, SpeedPolicy(90), central_key, verify)
    agent = RadarAgent(RADAR, "test-1.0", signer, journal, outbox, config)
    transport.start()
    return Harness(agent, AgentLoop(agent, transport), transport)


def test_violations_are_delivered_acked_and_leave_the_journal(
    mosquitto: Mosquitto, key_file: Path, central: FakeCentral, tmp_path: Path
) -> None:
    harness = make_agent(mosquitto, key_file, tmp_path / "journal")
    try:
        sent = [harness.violation(t_ms=1_000 * n) for n in range(3)]
        assert harness.agent.on_pass(VehiclePass(5, 80.0, "receding", 20.0, 9, 0, 9), 1_764_316_800_000) is None
        harness.until(lambda: not harness.agent.journal.pending())
        assert [message["seq"] for message in sent] == [1, 2, 3]
        assert set(central.recorded) == {message["event_id"] for message in sent}
        assert harness.agent.outbox.acked["accepted"] == 3
    finally:
        harness.transport.stop()


def test_broker_loss_loses_nothing_and_everything_is_acked(
    mosquitto: Mosquitto, key_file: Path, central: FakeCentral, tmp_path: Path
) -> None:
    harness = make_agent(mosquitto, key_file, tmp_path / "journal")
    try:
        first = [harness.violation(t_ms=n) for n in range(3)]
        harness.until(lambda: not harness.agent.journal.pending())

        mosquitto.stop()
        harness.until(lambda: not harness.agent.outbox.connected)
        during = [harness.violation(t_ms=10 + n) for n in range(3)]
        for _ in range(10):
            harness.loop.pump(wait_s=0.05)
        assert len(harness.agent.journal.pending()) == 3, "nothing can be acked while the broker is down"

        mosquitto.start()
        harness.until(lambda: not harness.agent.journal.pending(), timeout_s=30)
        everything = {message["event_id"] for message in first + during}
        assert set(central.recorded) == everything
        assert [central.recorded[str(message["event_id"])]["seq"] for message in first + during] == [1, 2, 3, 4, 5, 6]
    finally:
        harness.transport.stop()


def test_unacked_event_is_resent_and_central_answers_duplicate(
    mosquitto: Mosquitto, key_file: Path, central: FakeCentral, tmp_path: Path
) -> None:
    harness = make_agent(mosquitto, key_file, tmp_path / "journal", resend_ms=300)
    try:
        harness.until(lambda: harness.agent.outbox.connected)
        central.ignore_seq.add(1)
        message = harness.violation()
        harness.until(lambda: len(central.deliveries) >= 2)  # sent, then re-sent after 300 ms
        central.ignore_seq.clear()
        central.recorded[str(message["event_id"])] = dict(message)  # central did commit the first copy
        harness.until(lambda: not harness.agent.journal.pending())
        assert harness.agent.outbox.acked["duplicate"] == 1
        assert harness.agent.journal.ack_result(str(message["event_id"])) == "duplicate"
    finally:
        harness.transport.stop()


def test_agent_restart_resends_what_the_journal_holds(
    mosquitto: Mosquitto, key_file: Path, central: FakeCentral, tmp_path: Path
) -> None:
    central.ignore_seq.update({1, 2})
    harness = make_agent(mosquitto, key_file, tmp_path / "journal")
    harness.until(lambda: harness.agent.outbox.connected)
    ids = {harness.violation(t_ms=n)["event_id"] for n in range(2)}
    harness.until(lambda: len(central.deliveries) >= 2)
    harness.transport.stop()
    harness.agent.journal.close()  # the radar reboots with two events unacked

    central.ignore_seq.clear()
    rebooted = make_agent(mosquitto, key_file, tmp_path / "journal")
    try:
        assert rebooted.agent.journal.next_seq == 3
        rebooted.until(lambda: not rebooted.agent.journal.pending())
        assert set(central.recorded) == ids
        assert rebooted.violation()["seq"] == 3
    finally:
        rebooted.transport.stop()


def test_status_is_retained_online_then_offline(mosquitto: Mosquitto, key_file: Path, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_connect = lambda c, *_: c.subscribe(topics.status(RADAR), 1)
    watcher.on_message = lambda c, u, m: seen.append(json.loads(m.payload))
    harness = make_agent(mosquitto, key_file, tmp_path / "journal")
    harness.until(lambda: harness.agent.outbox.connected)
    harness.transport.stop()
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.loop_start()
    try:
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen and seen[-1]["state"] == "offline", "the retained status is the clean stop's offline"
        assert seen[-1]["firmware"] == "test-1.0"
    finally:
        watcher.disconnect()
        watcher.loop_stop()


def central_config(signer: CryptographySigner, **fields: Any) -> bytes:
    config: dict[str, Any] = {"v": 1, "radar_id": RADAR, "key_id": signer.key_id, **fields}
    config["sig"] = keys.b64encode(signer.sign(canonical.signing_bytes(config)))
    return canonical.dumps(config)


def test_retained_signed_config_is_applied_and_a_tampered_one_refused(
    mosquitto: Mosquitto, key_file: Path, tmp_path: Path
) -> None:
    central_signer = CryptographySigner.from_seed(bytes(range(32)))
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="central-config")
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    publisher.publish(
        topics.config(RADAR), central_config(central_signer, speed_limit_kmh=50, issued_at_ms=1), 1, True
    ).wait_for_publish(5)
    harness = make_agent(mosquitto, key_file, tmp_path / "journal", central_key=central_signer.public_key)
    try:
        harness.until(lambda: harness.agent.config.policy.speed_limit_kmh == 50)
        assert (tmp_path / "journal" / "config.json").exists()
        assert harness.violation(speed_kmh=60.0)["speed_limit_kmh"] == 50

        tampered = central_config(central_signer, speed_limit_kmh=50, issued_at_ms=2).replace(b":50", b":130")
        publisher.publish(topics.config(RADAR), tampered, 1, True).wait_for_publish(5)
        harness.until(lambda: harness.agent.stats.configs_refused == 1)
        assert harness.agent.config.policy.speed_limit_kmh == 50
    finally:
        harness.transport.stop()
        publisher.disconnect()
        publisher.loop_stop()


class BrokenReader:
    def read(self, image_bgr: object) -> object:
        raise RuntimeError("tesseract crashed")


class BrokenCamera:
    def frame_at(self, t_ms: int) -> object:
        raise ValueError("not a readable image")


def test_camera_or_reader_failure_does_not_cost_the_violation(tmp_path: Path) -> None:
    import numpy as np

    from speedledger.edge.agent.camera import Frame

    class StillCamera:
        def frame_at(self, t_ms: int) -> Frame:
            return Frame(b"\xff\xd8jpeg", np.zeros((2, 2, 3), np.uint8))

    signer = CryptographySigner.from_seed(bytes(32))
    for camera, reader, sha in ((StillCamera(), BrokenReader(), True), (BrokenCamera(), None, False)):
        journal = Journal(str(tmp_path / ("j" + str(sha))))
        outbox = Outbox(journal, RADAR, object())
        agent = RadarAgent(RADAR, "t", signer, journal, outbox, ConfigState(RADAR, SpeedPolicy(90), None, verify),
                           camera=camera, plate_reader=reader)  # type: ignore[arg-type]  # fmt: skip
        message = agent.on_pass(VehiclePass(0, 130.0, "approaching", 20.0, 10, 0, 0), 1_764_316_800_000)
        assert message is not None and message["plate"] == "" and message["plate_confidence_pm"] == 0
        assert (message["image_sha256"] != "") == sha
        assert len(journal.pending()) == 1
