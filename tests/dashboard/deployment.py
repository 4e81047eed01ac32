"""A real deployment for the dashboard's browser tests and `make screenshots`: mosquitto, `speedledger central`
as its own process, radars publishing signed violations, passages and evidence over MQTT, a real radar agent,
owners and vehicles registered over the REST API."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from speedledger.central.auth import Role
from speedledger.edge.core.outbox import status_payload
from speedledger.shared import keys
from speedledger.simulator.plates import render_frame
from tests.api.conftest import SECRET, Tokens
from tests.edge.test_edge_run import write_key
from tests.fixtures.metrology import verified_body
from tests.fixtures.mosquitto import Mosquitto, free_port
from tests.ingest.harness import RadarClient, SigningRadar, with_image


def wait_until(what: str, check: Callable[[], object], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout_s} s")
        time.sleep(0.1)


@dataclass
class Deployment:
    url: str
    broker: Mosquitto
    workdir: Path
    tokens: Tokens

    def api(self, role: Role = Role.ADMIN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens.token(role, subject=f'{role.value}-tester')}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def token(self, role: Role) -> str:
        return self.tokens.token(role, subject=f"{role.value}-clerk")


def _serving(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    return False


@contextmanager
def deployed(workdir: Path) -> Iterator[Deployment]:
    """mosquitto and `speedledger central` (SQLite in `workdir`), stopped on exit."""
    broker = Mosquitto(port=free_port(), workdir=workdir)
    broker.start()
    port = free_port()
    env = {
        **os.environ,
        "SPEEDLEDGER_SECRET": SECRET,
        "SPEEDLEDGER_DB": f"sqlite:///{workdir / 'central.db'}",
        "SPEEDLEDGER_MQTT": broker.url,
        "SPEEDLEDGER_HTTP": f"127.0.0.1:{port}",
    }
    log = (workdir / "central.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "speedledger", "central"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until("central serving", lambda: process.poll() is None and _serving(url))
        yield Deployment(url, broker, workdir, Tokens(SECRET))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        broker.stop()


def evidence_jpeg(plate: str, seed: int) -> bytes:
    """A camera frame with `plate` on a rendered French number plate (the simulator's)."""
    frame = render_frame(plate, np.random.default_rng(seed), char_height_px=44)
    ok, jpeg = cv2.imencode(".jpg", frame.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return bytes(jpeg.tobytes())


def register_radar(api: httpx.Client, radar_id: str, public_key_b64: str, position: tuple[float, float]) -> None:
    body = {
        "radar_id": radar_id,
        "name": f"Radar {radar_id}",
        "latitude": position[0],
        "longitude": position[1],
        "speed_limit_kmh": 90,
        "public_key": public_key_b64,
        "metrology": verified_body(),
    }
    api.post("/api/v1/radars", json=body).raise_for_status()


def register_owner(api: httpx.Client, name: str, plate: str) -> str:
    """An owner holding a vehicle with `plate`; returns the owner_id."""
    owner = api.post("/api/v1/owners", json={"name": name, "birth_date": "1984-05-17", "email": "owner@example.org"})
    owner_id: str = owner.raise_for_status().json()["owner_id"]
    vehicle = {"plate": plate, "brand": "Renault", "model": "Clio", "fiscal_power": 5, "owner_id": owner_id}
    api.post("/api/v1/vehicles", json=vehicle).raise_for_status()
    return owner_id


class RoadsideRadar:
    """A radar's MQTT side as the harness plays it: online, signed violations with their evidence photo."""

    def __init__(self, deployment: Deployment, radar_id: str, position: tuple[float, float]) -> None:
        self.radar = SigningRadar(radar_id)
        with deployment.api() as api:
            register_radar(api, radar_id, self.radar.public_key_b64, position)
        self.client = RadarClient(deployment.broker.port, radar_id)
        self.announce("online")

    def flash(self, plate: str, measured_speed_ckmh: int, seed: int = 1) -> str:
        """One violation now, with its photo; returns its event_id once central acknowledged it."""
        photo = evidence_jpeg(plate, seed)
        message = with_image(
            self.radar,
            photo,
            plate=plate,
            measured_speed_ckmh=measured_speed_ckmh,
            detected_at_ms=int(time.time() * 1000),
        )
        self.client.send(message)
        self.client.publish(f"evidence/{message['event_id']}", photo)
        assert self.client.ack_for(message["event_id"])["result"] == "accepted"
        return str(message["event_id"])

    def pass_by(self, plate: str, passed_at_ms: int, seed: int = 1) -> str:
        """One signed passage (a radar of a section), with its photo; returns its event_id once acknowledged."""
        photo = evidence_jpeg(plate, seed)
        image_sha256 = hashlib.sha256(photo).hexdigest()
        message = self.radar.passage(plate=plate, passed_at_ms=passed_at_ms, image_sha256=image_sha256)
        self.client.send(message, suffix="passages")
        self.client.publish(f"evidence/{message['event_id']}", photo)
        assert self.client.ack_for(message["event_id"])["result"] == "accepted"
        return str(message["event_id"])

    def forge(self, **changes: Any) -> None:
        """A signed violation changed after signing (its signature no longer verifies)."""
        message = {**self.radar.violation(), **changes}
        self.client.send(json.dumps(message).encode())

    def announce(self, state: str) -> None:
        """The retained status a radar publishes when it connects (`online`) and on a clean stop (`offline`)."""
        self.client.publish("status", status_payload(state, "test-1.0", int(time.time() * 1000)), retain=True)

    def close(self) -> None:
        self.announce("offline")
        self.client.close()


def infraction_for(api: httpx.Client, event_id: str) -> dict[str, Any]:
    """The infraction decided for `event_id` (waits for the process manager)."""
    found: list[dict[str, Any]] = []

    def decided() -> bool:
        items = api.get("/api/v1/infractions", params={"limit": 500}).raise_for_status().json()["items"]
        found[:] = [item for item in items if item["event_id"] == event_id]
        return bool(found)

    wait_until(f"an infraction for {event_id}", decided)
    return found[0]


@contextmanager
def radar_agent(
    deployment: Deployment, radar_id: str, position: tuple[float, float]
) -> Iterator[subprocess.Popen[bytes]]:
    """The real radar agent (`speedledger edge run`) waiting for live IQ on stdin; SIGTERM stops it cleanly."""
    directory = deployment.workdir / radar_id
    directory.mkdir()
    key_file, key = write_key(directory)
    with deployment.api() as api:
        register_radar(api, radar_id, keys.b64encode(key.public_key().public_bytes_raw()), position)
    process = subprocess.Popen(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", radar_id, "--key", str(key_file),
         "--journal", str(directory / "journal"), "--mqtt", deployment.broker.url, "--source", "-",
         "--sample-rate", "24000"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
