"""Registering a scenario's radars, sections, owners, vehicles and transfers through the REST API, as an
operator would."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from speedledger.central.radars.metrology import DAY_MS, PERIODIC_VERIFICATION
from speedledger.simulator.scenario import Scenario
from speedledger.simulator.traffic import Truth


class RegistrationError(RuntimeError):
    """Central refused a registration request (one line: the request and its answer)."""


@dataclass(frozen=True)
class Registered:
    key_files: dict[str, Path]  # radar id -> private key file
    public_keys: dict[str, str]  # radar id -> public key (base64), e.g. for `speedledger verify`
    owner_ids: tuple[str, ...]  # aligned with Truth.owners
    central_key: str  # central's config-signing public key, for the agents


def generate_radar_key(key_file: Path) -> str:
    """`speedledger keys generate --out FILE --json`, as an installer runs it; returns the public key (base64)."""
    output = subprocess.run(
        [sys.executable, "-m", "speedledger", "keys", "generate", "--out", str(key_file), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    public_key: str = json.loads(output)["public_key"]
    return public_key


def verification_certificate(radar_id: str) -> dict[str, object]:
    """A periodic verification issued 30 days ago, valid a year: central dismisses what an unverified radar measures."""
    verified_at_ms = int(time.time() * 1000) - 30 * DAY_MS
    return {
        "kind": PERIODIC_VERIFICATION,
        "approval_number": f"SIM-VP-{radar_id}",
        "verifying_body": "Simulated verification body",
        "verified_at_ms": verified_at_ms,
        "valid_until_ms": verified_at_ms + 365 * DAY_MS,
        "certificate_sha256": hashlib.sha256(f"periodic verification of {radar_id}".encode()).hexdigest(),
    }


def post(api: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    response = api.post(path, json=body)
    if response.is_error:
        raise RegistrationError(f"POST {path} answered {response.status_code}: {response.text}")
    result: dict[str, object] = response.json()
    return result


def register(api: httpx.Client, scenario: Scenario, truth: Truth, keys_dir: Path, start_ms: int) -> Registered:
    """Radars (each with a fresh key), sections, owners, vehicles, then the transfers (effective at their
    stream time)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    key_files, public_keys = {}, {}
    for radar in scenario.radars:
        key_files[radar.id] = keys_dir / f"{radar.id}.pem"
        public_keys[radar.id] = generate_radar_key(key_files[radar.id])
        post(
            api,
            "/api/v1/radars",
            {
                "radar_id": radar.id,
                "name": radar.name,
                "latitude": radar.latitude,
                "longitude": radar.longitude,
                "speed_limit_kmh": radar.speed_limit_kmh,
                "public_key": public_keys[radar.id],
                "metrology": [verification_certificate(radar.id)],
            },
        )
    for section in scenario.sections:
        post(
            api,
            "/api/v1/sections",
            {
                "section_id": section.id,
                "entry_radar_id": section.entry,
                "exit_radar_id": section.exit,
                "distance_m": section.distance_m,
                "speed_limit_kmh": section.speed_limit_kmh,
            },
        )
    owner_ids = tuple(
        str(post(api, "/api/v1/owners", {"name": o.name, "birth_date": o.birth_date, "email": o.email})["owner_id"])
        for o in truth.owners
    )
    for vehicle in truth.vehicles:
        body = {"plate": vehicle.plate, "brand": vehicle.brand, "model": vehicle.model, "fiscal_power": 6}
        post(api, "/api/v1/vehicles", body | {"owner_id": owner_ids[vehicle.owner], "registered_at_ms": start_ms})
    for transfer in truth.transfers:
        effective_at_ms = start_ms + round(transfer.at_s * 1000)
        post(
            api,
            f"/api/v1/vehicles/{transfer.plate}/transfer",
            {"owner_id": owner_ids[transfer.to_owner], "effective_at_ms": effective_at_ms},
        )
    central_key = str(api.get("/api/v1/config-key").json()["public_key"])
    return Registered(key_files, public_keys, owner_ids, central_key)
