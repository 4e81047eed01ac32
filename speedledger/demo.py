"""`make demo`: the whole system on one machine with the zero-setup defaults, end to end.

Starts the embedded MQTT broker and central (SQLite) as real processes, registers a radar, owners
and vehicles over the REST API, synthesises a roadside recording (IQ WAV + camera frames) and runs
the real radar agent on it. The agent measures, reads plates, signs, journals and publishes; central
verifies, records and answers with acks; the infractions then appear in the API. A tampered message
shows the quarantine. Everything lives in ./demo and is thrown away at the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from speedledger.central.auth.roles import Role
from speedledger.central.auth.tokens import TokenAuthority
from speedledger.central.infractions.events import ViolationRecorded
from speedledger.central.radars.metrology import DAY_MS, PERIODIC_VERIFICATION
from speedledger.shared import topics
from speedledger.simulator.iq import Clutter, Scene, Vehicle
from speedledger.simulator.roadside import write_recording

WORKDIR = Path("demo")
RADAR_ID = "DEMO-A6-001"
SPEED_LIMIT_KMH = 90
SAMPLE_RATE = 24_000

#: The recording: (speed km/h, beam crossing time s, approaching, plate in the camera frame or None).
TRAFFIC = (
    (131.0, 2.0, True, "GZ123QK"),  # registered to Alice: 135 EUR, 3 points
    (104.3, 5.0, True, "AB456CD"),  # sold by Alice to Bob before the pass: charged to Bob
    (62.0, 8.0, False, None),  # receding under the limit: nothing to report
    (151.0, 11.0, True, "EF789GH"),  # plate unknown to the registry: unidentified
)

console = Console(width=max(100, Console().width))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: str, predicate: Callable[[], object], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: {check} did not come up within {timeout_s:.0f} s (see {WORKDIR}/*.log)")


@contextmanager
def background(name: str, args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A speedledger process in the background, logging to demo/NAME.log, stopped on exit."""
    log = (WORKDIR / f"{name}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "speedledger", *args], env=env, stdout=log, stderr=log)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def record_traffic(directory: Path) -> tuple[Path, Path]:
    """The roadside recording the radar agent will replay: IQ WAV plus timed camera frames."""
    vehicles = tuple(
        Vehicle(speed, centre, approaching=approaching, snr_db=12.0) for speed, centre, approaching, _ in TRAFFIC
    )
    scene = Scene(SAMPLE_RATE, 14.0, vehicles, clutter=Clutter())
    return write_recording(directory, scene, [plate for *_, plate in TRAFFIC], seed=2026)


def create_config_key(env: dict[str, str]) -> None:
    """`speedledger central config-key --create`: the key central signs radar configs with, made once."""
    subprocess.run(
        [sys.executable, "-m", "speedledger", "central", "config-key", "--create"],
        env=env,
        check=True,
        capture_output=True,
    )
    console.print(f"[bold]$ speedledger central config-key --create[/]: {env['SPEEDLEDGER_CONFIG_KEY']}")


def show_token(out: Console, base_url: str, token: str) -> None:
    """The admin token alone on its line, never wrapped by the console (so it can be copied)."""
    out.print(
        f"Central keeps running: dashboard {base_url}/ and Swagger UI {base_url}/docs "
        "(sign in with the admin token below). Ctrl+C to stop."
    )
    out.print(token, soft_wrap=True, highlight=False)


def generate_radar_key(env: dict[str, str]) -> str:
    """`speedledger keys generate`, as an installer would run it; returns the public key (base64)."""
    key_file = WORKDIR / "radar.pem"
    output = subprocess.run(
        [sys.executable, "-m", "speedledger", "keys", "generate", "--out", str(key_file), "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    generated = json.loads(output)
    console.print(
        f"[bold]$ speedledger keys generate --out {key_file}[/]: key_id {generated['key_id']}, "
        f"public key {generated['public_key']}"
    )
    public_key: str = generated["public_key"]
    return public_key


def verification_certificate() -> dict[str, object]:
    """The demo radar's periodic verification: issued 30 days ago, valid one year (docs/evidence.md)."""
    document = f"Certificate of periodic verification, radar {RADAR_ID}, demo".encode()
    verified_at_ms = int(time.time() * 1000) - 30 * DAY_MS
    return {
        "kind": PERIODIC_VERIFICATION,
        "approval_number": "DEMO-VP-2026-001",
        "verifying_body": "Demo verification body",
        "verified_at_ms": verified_at_ms,
        "valid_until_ms": verified_at_ms + 365 * DAY_MS,
        "certificate_sha256": hashlib.sha256(document).hexdigest(),
    }


def seed(api: httpx.Client, public_key: str) -> None:
    def post(path: str, body: dict[str, object]) -> dict[str, object]:
        response = api.post(path, json=body)
        if response.is_error:
            raise SystemExit(f"demo: POST {path} answered {response.status_code}: {response.text}")
        result: dict[str, object] = response.json()
        return result

    post(
        "/api/v1/radars",
        {
            "radar_id": RADAR_ID,
            "name": "A6 Fontainebleau, km 58",
            "latitude": 48.4047,
            "longitude": 2.7016,
            "speed_limit_kmh": SPEED_LIMIT_KMH,
            "public_key": public_key,
            "metrology": [verification_certificate()],
        },
    )
    alice = post("/api/v1/owners", {"name": "Alice Martin", "birth_date": "1984-03-02", "email": "alice@example.org"})
    bob = post("/api/v1/owners", {"name": "Bob Durand", "birth_date": "1990-11-17", "email": "bob@example.org"})
    for plate, brand, model in (("GZ-123-QK", "Peugeot", "308"), ("AB-456-CD", "Renault", "Clio")):
        post(
            "/api/v1/vehicles",
            {"plate": plate, "brand": brand, "model": model, "fiscal_power": 6, "owner_id": alice["owner_id"]},
        )
    sold_at_ms = int(time.time() * 1000)
    post("/api/v1/vehicles/AB456CD/transfer", {"owner_id": bob["owner_id"], "effective_at_ms": sold_at_ms})
    console.print(
        f"Registered radar {RADAR_ID} (limit {SPEED_LIMIT_KMH} km/h, verified for a year), owners Alice and Bob, "
        "GZ-123-QK (Alice) and AB-456-CD (Alice, then sold to Bob)."
    )


def run_radar(env: dict[str, str], mqtt_url: str, central_key: str, wav: Path, camera: Path) -> None:
    args = [
        "edge", "run", "--radar-id", RADAR_ID, "--key", str(WORKDIR / "radar.pem"), "--source", str(wav),
        "--camera", str(camera), "--journal", str(WORKDIR / "journal"), "--mqtt", mqtt_url,
        "--central-key", central_key, "--speed-limit", str(SPEED_LIMIT_KMH), "--json", "--drain-timeout", "30",
    ]  # fmt: skip
    console.print(f"[bold]$ speedledger {' '.join(args)}[/]")
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger", *args], env=env, capture_output=True, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        violation = json.loads(line)
        console.print(
            f"  signed violation seq {violation['seq']}: {violation['measured_speed_ckmh'] / 100:.2f} km/h, "
            f"plate {violation['plate'] or '(unread)'}, event {violation['event_id']}"
        )
    console.print(completed.stderr.strip())
    if completed.returncode != 0:
        raise SystemExit(f"demo: the radar agent exited with status {completed.returncode}")


def publish_tampered(mqtt_port: int) -> None:
    """A forged violation (valid shape, bad signature) to show that central quarantines it."""
    forged = json.loads((WORKDIR / "first-violation.json").read_text())
    forged["measured_speed_ckmh"] = 9100
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-forger")
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    client.publish(topics.violations(RADAR_ID), json.dumps(forged), qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def show_infractions(api: httpx.Client, expected: int) -> None:
    def items() -> list[dict[str, object]]:
        found: list[dict[str, object]] = api.get("/api/v1/infractions", params={"limit": 50}).json()["items"]
        return found

    wait_for("the infractions", lambda: len(items()) >= expected)
    table = Table(title="GET /api/v1/infractions")
    for column in ("plate", "owner", "measured km/h", "retained km/h", "limit", "EUR", "points", "status"):
        table.add_column(column)
    for item in items():
        owner = item["owner_id"] and api.get(f"/api/v1/owners/{item['owner_id']}").json().get("name")
        table.add_row(
            str(item["plate"] or "(unread)"),
            str(owner or "-"),
            str(item["measured_speed_kmh"]),
            str(item["retained_speed_kmh"]),
            str(item["speed_limit_kmh"]),
            str(item["fine_eur"]),
            str(item["points"]),
            str(item["status"]),
        )
    console.print(table)


def verify_evidence(api: httpx.Client, env: dict[str, str], radar_key: str, central_key: str) -> None:
    """Export one infraction's evidence and check it offline with `speedledger verify`, as a court would."""
    (first,) = api.get("/api/v1/infractions", params={"plate": "GZ123QK"}).json()["items"]
    url = f"/api/v1/infractions/{first['infraction_id']}/export"
    wait_for("the evidence export", lambda: api.get(url).status_code == 200)  # once its image has arrived
    export = WORKDIR / f"infraction-{first['infraction_id']}.zip"
    export.write_bytes(api.get(url).content)
    command = ["verify", str(export), "--radar-key", radar_key, "--central-key", central_key]
    verdict = subprocess.run(
        [sys.executable, "-m", "speedledger", *command], env=env, capture_output=True, text=True, check=False
    ).stdout.splitlines()
    console.print(f"[bold]$ speedledger verify {export} --radar-key ... --central-key ...[/]: {verdict[-1]}")


def show_quarantine(api: httpx.Client) -> None:
    wait_for("the quarantine entry", lambda: api.get("/api/v1/quarantine").json()["items"])
    for item in api.get("/api/v1/quarantine").json()["items"]:
        console.print(f"Quarantined: reason [bold]{item['reason']}[/] on topic {item.get('topic', '?')}")


def main() -> None:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    mqtt_port, http_port = free_port(), free_port()
    mqtt_url, base_url = f"mqtt://127.0.0.1:{mqtt_port}", f"http://127.0.0.1:{http_port}"
    secret = secrets.token_hex(32)
    env = os.environ | {
        "SPEEDLEDGER_DB": f"sqlite:///{WORKDIR.resolve()}/central.db",
        "SPEEDLEDGER_MQTT": mqtt_url,
        "SPEEDLEDGER_HTTP": f"127.0.0.1:{http_port}",
        "SPEEDLEDGER_SECRET": secret,
        "SPEEDLEDGER_CONFIG_KEY": str(WORKDIR.resolve() / "central-config-key.pem"),
    }
    token = TokenAuthority(secret).mint(role=Role.ADMIN, subject="demo")
    console.rule("speedledger demo")
    wav, camera = record_traffic(WORKDIR)
    console.print(f"Synthesised {wav} (14 s of IQ at {SAMPLE_RATE} Hz, {len(TRAFFIC)} vehicles) and camera frames.")
    create_config_key(env)
    with (
        background("broker", ["broker"], env),
        background("central", ["central"], env),
        httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api,
    ):
        wait_for("the broker", lambda: port_open(mqtt_port))
        wait_for("central", lambda: api.get("/health").status_code == 200)
        console.print(f"Embedded broker at {mqtt_url}; central (SQLite) at {base_url} (Swagger UI: {base_url}/docs)")
        console.rule("registry")
        radar_key = generate_radar_key(env)
        seed(api, radar_key)
        console.rule("the radar agent replays the roadside recording")
        central_key = api.get("/api/v1/config-key").json()["public_key"]
        run_radar(env, mqtt_url, central_key, wav, camera)
        console.rule("central")
        show_infractions(api, expected=3)
        verify_evidence(api, env, radar_key, central_key)
        events = api.get("/api/v1/events", params={"limit": 500}).json()["items"]
        recorded = [event for event in events if event["type"] == ViolationRecorded.type_name]
        (WORKDIR / "first-violation.json").write_text(json.dumps(recorded[0]["data"]["message"]))
        publish_tampered(mqtt_port)
        show_quarantine(api)
        console.print(f"{len(events)} events in the log (GET /api/v1/events). Logs and data in ./{WORKDIR}/.")
        if sys.stdin.isatty():
            show_token(console, base_url, token)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
