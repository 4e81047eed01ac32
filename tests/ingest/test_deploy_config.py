"""deploy/mosquitto.conf + mosquitto.acl on the real broker: auth, per-radar ACL, no queue limit."""

from __future__ import annotations

import contextlib
import shutil
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.central.bootstrap import Central, build_ingest
from speedledger.central.infractions.events import violation_stream
from speedledger.central.ingest.queries import list_quarantine
from speedledger.central.ingest.settings import IngestSettings
from tests.conftest import missing_dependency
from tests.fixtures.mosquitto import free_port
from tests.ingest.deployed import DEPLOY, DeployedMosquitto, make_tls_files
from tests.ingest.harness import RadarClient, SigningRadar

pytestmark = pytest.mark.mosquitto

PASSWORDS = {"speedledger-central": "central-pw", "R-1": "r1-pw", "R-2": "r2-pw"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about the broker and processes, not the store (which has its own suite)."""
    return f"sqlite:///{tmp_path}/central.db"


@pytest.fixture
def deployed_broker(tmp_path: Path) -> Iterator[int]:
    passwd = shutil.which("mosquitto_passwd")
    if (shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists()) or passwd is None:
        missing_dependency("mosquitto and mosquitto_passwd (apt-get install mosquitto)")
    password_file = tmp_path / "passwd"
    for user, password in PASSWORDS.items():
        create = ["-c"] if not password_file.exists() else []
        subprocess.run([passwd, *create, "-b", str(password_file), user, password], check=True)
    broker = DeployedMosquitto(free_port(), tmp_path, password_file)
    broker.start()
    yield broker.port
    broker.stop()


def _register(central: Central, radar_id: str) -> SigningRadar:
    radar = SigningRadar(radar_id)
    central.bus.handle(radar.registration(radar_id))
    return radar


def test_shipped_config_authenticates_confines_radars_and_never_drops_queued(
    deployed_broker: int, central: Central, tmp_path: Path
) -> None:
    port = deployed_broker
    refused = threading.Event()
    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2)
    anonymous.on_connect = lambda _c, _u, _f, reason, _p: reason.is_failure and refused.set()
    anonymous.connect("127.0.0.1", port)
    anonymous.loop_start()
    try:
        assert refused.wait(5), "anonymous client was let in"
    finally:
        anonymous.loop_stop()

    radar, other = _register(central, "R-1"), _register(central, "R-2")
    settings = IngestSettings(
        mqtt_url=f"mqtt://speedledger-central:{PASSWORDS['speedledger-central']}@127.0.0.1:{port}",
        client_id=f"central-{uuid.uuid4().hex[:8]}",
        config_key_path=tmp_path / "key.pem",
    )
    ingest = build_ingest(central, settings)
    ingest.start(wait_s=10)
    assert ingest.session.connected
    ingest.stop()  # central goes away; its persistent session queues at the broker

    client = RadarClient(port, "R-1", credentials=("R-1", PASSWORDS["R-1"]))
    try:
        # More than mosquitto's default max_queued_messages (1000), sent while central is offline.
        queued = [radar.violation() for _ in range(1200)]
        for message in queued:
            client.send(message)
        # R-1 speaking for R-2 (from another connection): the ACL stops it at the broker.
        impostor = RadarClient(port, "R-1", credentials=("R-1", PASSWORDS["R-1"]))
        with contextlib.suppress(Exception):
            impostor.send(other.violation(), topic_radar_id="R-2")
        impostor.close()
        ingest = build_ingest(central, settings)
        ingest.start(wait_s=10)
        try:
            client.wait_acks([message["event_id"] for message in queued], timeout=120)
        finally:
            ingest.stop()
    finally:
        client.close()
    assert {acks[0]["result"] for acks in client.acks.values()} == {"accepted"}
    with central.engine.connect() as conn:
        assert list_quarantine(conn) == []
    assert central.store.read_stream(violation_stream("R-2", 1)) == []


def _connects(port: int, username: str, password: str, ca: Path | None) -> bool:
    """Whether a client gets a successful CONNACK (TLS verified against `ca` when given)."""
    result: list[bool] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set(username, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca))

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object) -> None:
        result.append(not reason.is_failure)
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *_args: done.set()
    try:
        client.connect("127.0.0.1", port)
    except (OSError, ssl.SSLError):
        return False
    client.loop_start()
    try:
        done.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    return result == [True]


def test_radars_connect_over_tls_and_plain_mqtt_stays_on_loopback(tmp_path: Path) -> None:
    shipped = (DEPLOY / "mosquitto.conf").read_text()
    listeners = [line for line in shipped.splitlines() if line.startswith("listener ")]
    assert listeners == ["listener 1883 127.0.0.1", "listener 8883"]
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        missing_dependency("mosquitto_passwd (apt-get install mosquitto)")
    password_file = tmp_path / "passwd"
    subprocess.run([passwd, "-c", "-b", str(password_file), "R-1", PASSWORDS["R-1"]], check=True)
    tls = make_tls_files(tmp_path)
    broker = DeployedMosquitto(free_port(), tmp_path, password_file, tls=tls, tls_port=free_port())
    broker.start()
    try:
        assert _connects(broker.tls_port, "R-1", PASSWORDS["R-1"], tls.ca)
        assert not _connects(broker.tls_port, "R-1", PASSWORDS["R-1"], None), "plain MQTT on the TLS port"
        assert not _connects(broker.tls_port, "R-1", "wrong", tls.ca)
    finally:
        broker.stop()
