"""A section infraction's evidence: its export verifies offline with both radars' keys (the average speed
recomputed from the two signed passages and the section), any tampering is caught and named, and its
notice says it is average-speed control."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central, central_config_key
from speedledger.central.evidence import bundle
from speedledger.central.evidence.verify import verify_export
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.ingest.classify import EvidenceImage
from speedledger.central.ingest.rows import store_evidence
from speedledger.central.sections.commands import RecordPassage
from speedledger.cli import app
from speedledger.shared import keys
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, radar_body
from tests.api.test_evidence_export import BLOCK_CENTRAL_PACKAGES, rezip
from tests.api.test_notice import pdf_text
from tests.api.test_registration import OWNER, register_owner, register_vehicle
from tests.api.test_sections import section_body
from tests.fixtures.postgres import sqlite_only

DISTANCE_M = 5_000
LIMIT_KMH = 110
#: The trip: 150 s between the passages, the radars' clock uncertainties lengthening it in the driver's favour.
TRAVEL_MS, ENTRY_UNCERTAINTY_MS, EXIT_UNCERTAINTY_MS = 150_000, 20, 30
AVERAGE_KMH = DISTANCE_M * 3600 // (TRAVEL_MS + ENTRY_UNCERTAINTY_MS + EXIT_UNCERTAINTY_MS)


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="JPEG")
    return out.getvalue()


@dataclass
class Trip:
    client: TestClient
    tokens: Tokens
    central: Central
    entry_key: RadarKey
    exit_key: RadarKey
    entry: dict[str, Any]
    exit: dict[str, Any]
    infraction: dict[str, Any]

    def export(self) -> bytes:
        response = self.client.get(
            f"/api/v1/infractions/{self.infraction['infraction_id']}/export", headers=self.tokens.headers(Role.AGENCY)
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        return response.content

    @property
    def central_key(self) -> bytes:
        return central_config_key(self.central.settings).public_key

    def failures(self, data: bytes) -> list[str]:
        report = verify_export(
            data, radar_keys=[self.entry_key.public_raw, self.exit_key.public_raw], central_key=self.central_key
        )
        return [f"{check.name}: {check.detail}" for check in report.checks if check.status == "fail"]

    def resigned(self, members: dict[str, bytes], **changed: bytes) -> bytes:
        """The export with `changed` members and a manifest central signs again: only the content can tell."""
        manifest = json.loads(members[bundle.MANIFEST])
        altered = {name: content for name, content in members.items() if name != bundle.MANIFEST} | changed
        body = bundle.manifest_body(
            altered,
            InfractionKind.SECTION,
            manifest["infraction_id"],
            manifest["event_id"],
            manifest["exported_at_ms"],
        )
        return bundle.write_zip(altered, central_config_key(self.central.settings).sign(body))


def passage(key: RadarKey, radar_id: str, passed_at_ms: int, uncertainty_ms: int, image: bytes) -> dict[str, Any]:
    return key.sign(
        {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "radar_id": radar_id,
            "seq": 1,
            "passed_at_ms": passed_at_ms,
            "clock_uncertainty_ms": uncertainty_ms,
            "direction": "approaching",
            "plate": "GZ123QK",
            "plate_confidence_pm": 990,
            "image_sha256": hashlib.sha256(image).hexdigest(),
            "firmware": "1.0.0",
        }
    )


def drive(client: TestClient, tokens: Tokens, central: Central, *, images_arrive: bool = True) -> Trip:
    """Two radars and their section, a registered car, and a trip over it too fast, recorded as the ingest does."""
    entry_key, exit_key = RadarKey(), RadarKey()
    for radar_id, key in (("FR-A7-201", entry_key), ("FR-A7-202", exit_key)):
        created = client.post("/api/v1/radars", json=radar_body(radar_id, key, 130), headers=tokens.headers(Role.ADMIN))
        assert created.status_code == 201, created.text
    body = section_body(distance_m=DISTANCE_M, speed_limit_kmh=LIMIT_KMH)
    assert client.post("/api/v1/sections", json=body, headers=tokens.headers(Role.OPERATOR)).status_code == 201
    register_vehicle(client, tokens, "GZ123QK", register_owner(client, tokens)["owner_id"])
    start_ms = int(time.time() * 1000) + 1000  # after the registration: the owner is charged at the exit time
    entry_image, exit_image = jpeg((200, 30, 30)), jpeg((30, 30, 200))
    entry = passage(entry_key, "FR-A7-201", start_ms, ENTRY_UNCERTAINTY_MS, entry_image)
    exit = passage(exit_key, "FR-A7-202", start_ms + TRAVEL_MS, EXIT_UNCERTAINTY_MS, exit_image)
    for message, image in ((entry, entry_image), (exit, exit_image)):
        assert central.bus.handle(RecordPassage(message=message)) == "accepted"
        if images_arrive:
            with central.engine.begin() as conn:
                sha = str(message["image_sha256"])
                store_evidence(conn, EvidenceImage(str(message["event_id"]), sha, image), message["radar_id"], 1)
    listed = client.get("/api/v1/infractions", params={"kind": "section"}, headers=tokens.headers(Role.AGENCY))
    (infraction,) = listed.json()["items"]
    return Trip(client, tokens, central, entry_key, exit_key, entry, exit, infraction)


@pytest.fixture
def trip(client: TestClient, tokens: Tokens, central: Central) -> Trip:
    return drive(client, tokens, central)


def test_a_section_export_verifies_with_both_radars_keys(trip: Trip, tmp_path: Path) -> None:
    data = trip.export()
    members = bundle.read_zip(data)
    assert set(members) == {bundle.MANIFEST, *bundle.MEMBERS[InfractionKind.SECTION]}
    assert json.loads(members[bundle.ENTRY_PASSAGE]) == trip.entry
    assert json.loads(members[bundle.EXIT_PASSAGE]) == trip.exit
    section = json.loads(members[bundle.SECTION])
    assert (section["distance_m"], section["speed_limit_kmh"]) == (DISTANCE_M, LIMIT_KMH)
    assert trip.infraction["average_speed_kmh"] == AVERAGE_KMH
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    pinned = ["--radar-key", trip.entry_key.public_b64, "--radar-key", trip.exit_key.public_b64]
    result = CliRunner().invoke(app, ["verify", str(path), *pinned, "--central-key", keys.b64encode(trip.central_key)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "verdict: VERIFIED"
    for check in (
        "entry-passage.json signature",
        "exit-passage.json signature",
        "entry radar key pinned",
        "exit radar key pinned",
        "entry-evidence.jpg hash",
        "exit-evidence.jpg hash",
        "entry-metrology.json verification in force",
        "exit-metrology.json verification in force",
        "section.json limit in force",
        "same vehicle",
        "average speed",
        "retained speed",
        "fine",
    ):
        assert f"ok   {check}:" in result.output, check
    assert f"± {ENTRY_UNCERTAINTY_MS} ms" in result.output and f"± {EXIT_UNCERTAINTY_MS} ms" in result.output
    assert f"{AVERAGE_KMH} km/h, infraction says {AVERAGE_KMH}" in result.output
    retained, fine = trip.infraction["retained_speed_kmh"], trip.infraction["fine_eur"]
    assert f"{retained - LIMIT_KMH} km/h over {LIMIT_KMH} gives {fine} EUR" in result.output
    # One radar's key is not the other's: pinning only the entry radar fails the exit passage.
    only_entry = CliRunner().invoke(app, ["verify", str(path), "--radar-key", trip.entry_key.public_b64])
    assert only_entry.exit_code == 1
    failed = [line for line in only_entry.output.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in failed] == ["FAIL exit radar key pinned", "FAIL exit-passage.json signature"]


@sqlite_only
def test_any_changed_byte_of_a_section_export_fails_naming_the_member(trip: Trip) -> None:
    data = trip.export()
    members = bundle.read_zip(data)
    assert trip.failures(data) == []
    for name, content in members.items():
        for index in sorted({0, len(content) // 2, len(content) - 1}):
            altered = bytearray(content)
            altered[index] ^= 0x01
            failed = trip.failures(rezip({**members, name: bytes(altered)}))
            assert any(name in failure for failure in failed), (name, index, failed)


@sqlite_only
def test_tampering_past_the_manifest_is_caught_by_the_content(trip: Trip) -> None:
    """Even with a manifest central signed again, each altered fact fails the check that reads it."""
    members = bundle.read_zip(trip.export())

    def failed_checks(**changed: bytes) -> set[str]:
        return {failure.split(":")[0] for failure in trip.failures(trip.resigned(members, **changed))}

    assert failed_checks() == set()
    for signed, message in ((bundle.ENTRY, trip.entry), (bundle.EXIT, trip.exit)):
        earlier = {**message, "passed_at_ms": message["passed_at_ms"] - 1000}
        changed = {signed.message: json.dumps(earlier, separators=(",", ":"), sort_keys=True).encode()}
        assert f"{signed.message} signature" in failed_checks(**changed)
        assert failed_checks(**{signed.evidence: jpeg((0, 200, 0))}) == {f"{signed.evidence} hash"}
        metrology = json.loads(members[signed.metrology])
        assert metrology["radar_id"] == message["radar_id"] and metrology["in_force"] is not None
        lapsed = {**metrology, "in_force": {**metrology["in_force"], "valid_until_ms": message["passed_at_ms"]}}
        for document in (lapsed, {**metrology, "in_force": None}):
            changed = {signed.metrology: bundle.json_member(document)}
            assert failed_checks(**changed) == {f"{signed.metrology} verification in force"}
    section = json.loads(members[bundle.SECTION])
    longer = bundle.json_member({**section, "distance_m": DISTANCE_M + 1000})
    assert "average speed" in failed_checks(**{bundle.SECTION: longer}) <= {"average speed", "retained speed", "fine"}
    raised = [{**period, "speed_limit_kmh": 130} for period in section["speed_limits"]]
    higher = bundle.json_member({**section, "speed_limits": raised})
    assert "section.json limit in force" in failed_checks(**{bundle.SECTION: higher})
    swapped = bundle.json_member({**section, "entry_radar_id": "FR-A7-202", "exit_radar_id": "FR-A7-201"})
    assert failed_checks(**{bundle.SECTION: swapped}) == {"section.json radars"}


@sqlite_only
def test_section_export_waits_for_both_images(client: TestClient, tokens: Tokens, central: Central) -> None:
    trip = drive(client, tokens, central, images_arrive=False)
    url = f"/api/v1/infractions/{trip.infraction['infraction_id']}/export"
    waiting = client.get(url, headers=tokens.headers(Role.AGENCY))
    assert waiting.status_code == 409
    assert f"message {trip.entry['event_id']}) has not arrived" in waiting.json()["detail"]


@sqlite_only
def test_section_verify_needs_no_database_nor_web_stack(trip: Trip, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(trip.export())
    arguments = ["verify", str(path), "--radar-key", trip.entry_key.public_b64]
    arguments += ["--radar-key", trip.exit_key.public_b64, "--central-key", keys.b64encode(trip.central_key)]
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_CENTRAL_PACKAGES, *arguments], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "verdict: VERIFIED"


def test_the_notice_of_a_section_infraction_is_average_speed_control(trip: Trip, tmp_path: Path) -> None:
    response = trip.client.get(
        f"/api/v1/infractions/{trip.infraction['infraction_id']}/notice.pdf", headers=trip.tokens.headers(Role.AGENCY)
    )
    assert response.status_code == 200, response.text
    text = pdf_text(response.content, tmp_path)
    zone = ZoneInfo(trip.central.settings.timezone)
    entry_at, exit_at = (datetime.fromtimestamp(m["passed_at_ms"] / 1000, zone) for m in (trip.entry, trip.exit))
    for expected in (
        "(average-speed control)",
        f"Entry {entry_at:%Y-%m-%d %H:%M:%S %Z} at Radar FR-A7-201",
        f"Exit {exit_at:%Y-%m-%d %H:%M:%S %Z} at Radar FR-A7-202",
        "Average-speed control over section A7-S1",
        "Radar FR-A7-201 (45.76000, 4.84000)",
        "Radar FR-A7-202 (45.76000, 4.84000)",
        f"Distance {DISTANCE_M / 1000:.3f} km",
        f"{ENTRY_UNCERTAINTY_MS} ms at the entry, {EXIT_UNCERTAINTY_MS} ms at the exit",
        f"Average speed {AVERAGE_KMH} km/h",
        f"Retained speed {trip.infraction['retained_speed_kmh']} km/h",
        f"Speed limit {LIMIT_KMH} km/h",
        "GZ123QK",
        OWNER["name"],
    ):
        assert expected in text, expected
    assert "Measured speed" not in text
