"""Nothing lost, nothing doubled: kill -9 of `speedledger central`, a crash between commit and ack, a broker restart."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from speedledger.central.bootstrap import Central, build_ingest
from speedledger.central.infractions.projection import infractions
from speedledger.central.ingest.config_push import ConfigKey
from speedledger.central.ingest.queries import list_liveness
from speedledger.central.ingest.settings import IngestSettings
from tests.fixtures.mosquitto import Mosquitto, free_port
from tests.ingest.harness import RadarClient, SigningRadar

pytestmark = pytest.mark.mosquitto

Register = Callable[[str], SigningRadar]
Connect = Callable[[str], RadarClient]


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, unless a test asks for PostgreSQL too (indirect parametrisation)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path}/central.db"


BOTH_STORES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _recorded_violations(central: Central) -> list[str]:
    event_ids: list[str] = []
    position = 0
    while batch := central.store.read_all(position, 1000):
        event_ids += [event.event_id for event in batch if event.type == "ViolationRecorded"]
        position = batch[-1].position
    return event_ids


def _resend_until_acked(client: RadarClient, messages: list[dict[str, Any]], timeout: float) -> None:
    """What a radar's journal does after a reconnect: re-send every message without an ack."""
    deadline = time.monotonic() + timeout
    while True:
        unacked = [message for message in messages if message["event_id"] not in client.acks]
        if not unacked:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(unacked)} messages never acked")
        for message in unacked:
            client.send(message)
        with contextlib.suppress(TimeoutError):
            client.wait_acks([message["event_id"] for message in unacked], timeout=5)


def _issued(central: Central) -> tuple[int, list[Any]]:
    """Infractions in the read model, and the violations listed more than once."""
    with central.engine.connect() as conn:
        issued = conn.execute(select(func.count()).select_from(infractions)).scalar_one()
        doubled = conn.execute(
            select(infractions.c.event_id, func.count()).group_by(infractions.c.event_id).having(func.count() > 1)
        ).all()
    return issued, list(doubled)


class CentralProcess:
    """`speedledger central [options]` as a real subprocess (API, projections, ingest: all of them unless
    `options` leave some out), killable with SIGKILL."""

    def __init__(
        self, central: Central, mosquitto: Mosquitto, workdir: Path, *options: str, name: str = "central-under-test"
    ) -> None:
        config_key = workdir / "config-key.pem"
        ConfigKey.load_or_create(config_key)  # what `speedledger central config-key --create` does
        self.http = f"127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "SPEEDLEDGER_DB": central.settings.db_url,
            "SPEEDLEDGER_MQTT": mosquitto.url,
            "SPEEDLEDGER_HTTP": self.http,
            "SPEEDLEDGER_SECRET": "s" * 40,
            "SPEEDLEDGER_MQTT_CLIENT_ID": name,
            "SPEEDLEDGER_CONFIG_KEY": str(config_key),
        }
        self.options = options
        self.central = central
        self.log = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        started_ms = time.time_ns() // 1_000_000
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "speedledger", "central", *self.options], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "--no-ingest" in self.options:
                with contextlib.suppress(OSError), urllib.request.urlopen(f"http://{self.http}/health", timeout=5):
                    return
            else:  # its own online status, as its ingest recorded it
                with self.central.engine.connect() as conn:
                    rows = list_liveness(conn, kind="central")
                if any(row["online"] and (row["state_at_ms"] or 0) >= started_ms for row in rows):
                    return
            if self.process.poll() is not None:
                raise AssertionError(f"central exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"central did not come online: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def central_process(central: Central, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[CentralProcess]:
    process = CentralProcess(central, mosquitto, tmp_path)
    yield process
    process.stop()


@BOTH_STORES
def test_kill_9_mid_stream_loses_nothing_and_doubles_nothing(
    central: Central, register: Register, radar_client: Connect, central_process: CentralProcess
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    messages = [radar.violation() for _ in range(240)]
    central_process.start()

    def stream() -> None:
        for message in messages:
            client.send(message)
            time.sleep(0.004)

    publisher = threading.Thread(target=stream)
    publisher.start()
    deadline = time.monotonic() + 60
    while len(client.acks) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    central_process.kill()  # mid-stream: some committed and acked, some committed only, some in flight
    acked_before_kill = len(client.acks)
    assert 0 < acked_before_kill < len(messages)
    publisher.join()  # the rest queues at the broker in central's persistent session
    central_process.start()
    _resend_until_acked(client, messages, timeout=120)

    recorded = _recorded_violations(central)
    assert sorted(recorded) == sorted(message["event_id"] for message in messages)  # each exactly once
    results = {ack["result"] for acks in client.acks.values() for ack in acks}
    assert results <= {"accepted", "duplicate"}
    central.runner.catch_up()
    assert _issued(central) == (len(messages), [])  # each listed once


@BOTH_STORES
def test_ingest_and_projections_in_two_processes_each_killed_mid_stream(
    central: Central, register: Register, radar_client: Connect, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """The split shape (docs/operations.md): `--no-projections` beside `--no-ingest` on one database.
    Every violation is acked once and listed once, through a kill -9 of either process."""
    radars = [register(f"R-{index}") for index in range(2)]
    clients = [radar_client(radar.radar_id) for radar in radars]
    ingest = CentralProcess(central, mosquitto, tmp_path, "--no-projections", name="ingest-under-test")
    projections = CentralProcess(central, mosquitto, tmp_path, "--no-ingest", name="projections-under-test")
    sent: list[dict[str, Any]] = []

    def send(count: int) -> None:
        for _ in range(count):
            for radar, client in zip(radars, clients, strict=True):
                sent.append(message := radar.violation())
                client.send(message)
                time.sleep(0.002)

    try:
        projections.start()
        ingest.start()
        send(40)
        projections.kill()  # mid-stream: its round rolled back, the ingest goes on alone
        send(40)
        for client in clients:
            client.wait_acks([m["event_id"] for m in sent if m["radar_id"] == client.radar_id], timeout=60)
        ingest.kill()
        ingest.start()  # the broker re-delivers what was in flight: answered duplicate at most
        projections.start()
        send(20)
        for client in clients:
            _resend_until_acked(client, [m for m in sent if m["radar_id"] == client.radar_id], timeout=60)
        deadline = time.monotonic() + 60
        while _issued(central)[0] < len(sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        for process in (ingest, projections):  # SIGTERM: each finishes on its own, cleanly
            process.stop()
            assert process.process is not None and process.process.returncode == 0, process.log.read_text()[-3000:]
    finally:
        ingest.stop()
        projections.stop()
    assert sorted(_recorded_violations(central)) == sorted(message["event_id"] for message in sent)
    acks = [ack for client in clients for answers in client.acks.values() for ack in answers]
    assert {ack["event_id"] for ack in acks} == {message["event_id"] for message in sent}
    assert {ack["result"] for ack in acks} <= {"accepted", "duplicate"}
    accepted = [ack["event_id"] for ack in acks if ack["result"] == "accepted"]
    assert len(accepted) == len(set(accepted))  # accepted once; a re-delivery after the kill: duplicate
    assert _issued(central) == (len(sent), [])


def test_crash_between_commit_and_ack_is_answered_duplicate(
    central: Central, register: Register, radar_client: Connect, ingest_settings: IngestSettings
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    crashing = build_ingest(central, ingest_settings)
    # The process dies right after the commit: no ack published, no PUBACK sent.
    crashing.session.publish = lambda *_args, **_kwargs: None  # type: ignore[method-assign]
    crashing.session.confirm = lambda _deliveries: None  # type: ignore[method-assign]
    crashing.start(wait_s=10)
    message = radar.violation()
    client.send(message)
    deadline = time.monotonic() + 10
    while not _recorded_violations(central) and time.monotonic() < deadline:
        time.sleep(0.02)
    crashing.stop()
    assert message["event_id"] not in client.acks
    restarted = build_ingest(central, ingest_settings)  # same client id: the broker re-delivers
    restarted.start(wait_s=10)
    try:
        ack = client.ack_for(message["event_id"])
    finally:
        restarted.stop()
    assert (ack["result"], ack["original"]) == ("duplicate", "accepted")
    assert _recorded_violations(central) == [message["event_id"]]


def test_broker_restart_with_queued_messages(
    central: Central,
    register: Register,
    radar_client: Connect,
    ingest_settings: IngestSettings,
    mosquitto: Mosquitto,
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    first = build_ingest(central, ingest_settings)
    first.start(wait_s=10)  # creates central's persistent session and subscriptions
    first.stop()
    queued = [radar.violation() for _ in range(50)]
    for message in queued:
        client.send(message)  # PUBACKed by the broker, queued for central's session
    mosquitto.restart()  # planned restart: persistence keeps the session and its queue
    client.subscribed.clear()
    assert client.subscribed.wait(10)  # the radar is back to hear its acks
    second = build_ingest(central, ingest_settings)
    second.start(wait_s=10)
    try:
        client.wait_acks([message["event_id"] for message in queued], timeout=30)
    finally:
        second.stop()
    assert {ack[0]["result"] for ack in client.acks.values()} == {"accepted"}
    assert sorted(_recorded_violations(central)) == sorted(message["event_id"] for message in queued)
