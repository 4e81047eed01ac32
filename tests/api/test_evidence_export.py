"""The evidence export: it verifies offline, and any altered byte or wrong key is caught and named."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central, central_config_key
from speedledger.central.eventstore.port import NO_STREAM
from speedledger.central.evidence import bundle
from speedledger.central.evidence.verify import verify_export
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.violations import PAYLOAD_METADATA, violation_recorded
from speedledger.central.ingest.tables import evidence_blobs
from speedledger.cli import app
from speedledger.shared import canonical, keys
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, violation
from tests.api.test_infractions import Scene
from tests.fixtures.postgres import sqlite_only


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def exported(client: TestClient, tokens: Tokens, central: Central) -> tuple[Scene, bytes, str]:
    """An infraction with its evidence image arrived, and its export as the agency downloads it."""
    scene = Scene(client, tokens, central)
    image = jpeg()
    sha = hashlib.sha256(image).hexdigest()
    message = scene.record(measured_speed_ckmh=13150, image_sha256=sha)
    with central.engine.begin() as conn:
        conn.execute(evidence_blobs.insert().values(sha256=sha, content=image, size=len(image), received_at_ms=1))
    (item,) = scene.get("/api/v1/infractions")["items"]
    response = client.get(f"/api/v1/infractions/{item['infraction_id']}/export", headers=tokens.headers(Role.AGENCY))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert item["event_id"] == message["event_id"]
    return scene, response.content, item["infraction_id"]


def central_key(central: Central) -> bytes:
    return central_config_key(central.settings).public_key


def failures(data: bytes, scene: Scene, central: Central) -> list[str]:
    report = verify_export(data, radar_keys=[scene.keys["RA"].public_raw], central_key=central_key(central))
    return [f"{check.name}: {check.detail}" for check in report.checks if check.status == "fail"]


def test_an_export_verifies_offline_with_the_cli(exported: tuple[Scene, bytes, str], central: Central, tmp_path: Path):
    scene, data, infraction_id = exported
    members = bundle.read_zip(data)
    assert set(members) == {bundle.MANIFEST, *bundle.MEMBERS[InfractionKind.SPOT]}
    events = json.loads(members[bundle.EVENTS])
    assert [event["type"] for event in events] == ["ViolationRecorded", "InfractionIssued"]
    assert json.loads(members[bundle.METROLOGY])["in_force"]["approval_number"] == "TEST-VP-0001"
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    result = CliRunner().invoke(
        app,
        [
            "verify",
            str(path),
            "--radar-key",
            scene.keys["RA"].public_b64,
            "--central-key",
            keys.b64encode(central_key(central)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "verdict: VERIFIED"
    for check in ("violation.json signature", "evidence.jpg hash", "metrology.json verification in force", "fine"):
        assert f"ok   {check}:" in result.output
    assert "131.50 km/h measured gives 124 km/h" in result.output  # x 0.95, truncated
    assert "34 km/h over 90 gives 135 EUR and 3 points" in result.output
    unpinned = CliRunner().invoke(app, ["verify", str(path), "--json"])
    assert unpinned.exit_code == 0, unpinned.output
    report = json.loads(unpinned.output)
    assert report["verdict"] == "verified"
    assert {check["name"] for check in report["checks"] if check["status"] == "skip"} == {
        "central key pinned",
        "radar key pinned",
    }
    assert infraction_id in json.loads(members[bundle.MANIFEST])["infraction_id"]


def rezip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


@sqlite_only
def test_any_changed_byte_of_any_member_fails_naming_the_member(
    exported: tuple[Scene, bytes, str], central: Central
) -> None:
    scene, data, _ = exported
    members = bundle.read_zip(data)
    assert failures(data, scene, central) == []
    for name, content in members.items():
        for index in sorted({0, len(content) // 2, len(content) - 1}):
            altered = bytearray(content)
            altered[index] ^= 0x01
            failed = failures(rezip({**members, name: bytes(altered)}), scene, central)
            assert failed, f"flipping byte {index} of {name} went unnoticed"
            assert any(name in failure for failure in failed), (name, index, failed)


@sqlite_only
def test_missing_or_extra_members_fail(exported: tuple[Scene, bytes, str], central: Central) -> None:
    scene, data, _ = exported
    members = bundle.read_zip(data)
    without_image = {name: content for name, content in members.items() if name != bundle.EVIDENCE}
    assert any("evidence.jpg" in failure for failure in failures(rezip(without_image), scene, central))
    extra = failures(rezip({**members, "note.txt": b"trust me"}), scene, central)
    assert extra == ["member note.txt: in the zip but not in the manifest"]
    assert failures(b"not a zip", scene, central)[0].startswith("archive: not a readable zip")


@sqlite_only
def test_a_wrong_key_fails(exported: tuple[Scene, bytes, str], central: Central, tmp_path: Path) -> None:
    scene, data, _ = exported
    other = RadarKey()
    wrong_radar = verify_export(data, radar_keys=[other.public_raw], central_key=central_key(central))
    assert {check.name for check in wrong_radar.checks if check.status == "fail"} == {
        "radar key pinned",
        "violation.json signature",
    }
    wrong_central = verify_export(data, radar_keys=[scene.keys["RA"].public_raw], central_key=other.public_raw)
    assert {check.name for check in wrong_central.checks if check.status == "fail"} == {
        "central key id",
        "manifest.json signature",
    }
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    result = CliRunner().invoke(app, ["verify", str(path), "--radar-key", other.public_b64])
    assert result.exit_code == 1
    assert "FAIL violation.json signature" in result.output
    assert result.output.splitlines()[-1] == "verdict: FAILED (2 checks)"


def test_cli_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["verify", str(tmp_path / "absent.zip")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    bad_key = CliRunner().invoke(app, ["verify", str(tmp_path / "absent.zip"), "--radar-key", "nope"])
    assert bad_key.exit_code == 2 and "--radar-key" in bad_key.output


@sqlite_only
def test_export_access_and_errors(exported: tuple[Scene, bytes, str], client: TestClient, tokens: Tokens) -> None:
    scene, _, infraction_id = exported
    url = f"/api/v1/infractions/{infraction_id}/export"
    assert client.get(url, headers=tokens.headers(Role.OPERATOR)).status_code == 403
    assert client.get(url, headers=tokens.headers(Role.ADMIN)).status_code == 200
    unknown = client.get("/api/v1/infractions/nope/export", headers=tokens.headers(Role.AGENCY))
    assert unknown.status_code == 404 and "detail" in unknown.json()
    scene.record(measured_speed_ckmh=13150, image_sha256="e" * 64)  # its image never arrives
    pending = next(item for item in scene.get("/api/v1/infractions")["items"] if item["image_sha256"] == "e" * 64)
    waiting = client.get(f"/api/v1/infractions/{pending['infraction_id']}/export", headers=tokens.headers(Role.AGENCY))
    assert waiting.status_code == 409 and "has not arrived" in waiting.json()["detail"]


@sqlite_only
def test_bytes_sent_in_another_form_are_exported_as_received(
    client: TestClient, tokens: Tokens, central: Central
) -> None:
    scene = Scene(client, tokens, central)
    message = violation(scene.keys["RA"], "RA", 1, measured_speed_ckmh=13150, detected_at_ms=scene.now_ms)
    spaced = json.dumps(message, indent=1).encode()  # valid JSON, signed content, not canonical
    _, canonical_event = violation_recorded(message, scene.now_ms, payload=canonical.dumps(message))
    assert PAYLOAD_METADATA not in canonical_event.metadata  # the usual case costs nothing
    stream_id, event = violation_recorded(message, scene.now_ms, payload=spaced)
    central.store.append(stream_id, [event], NO_STREAM)
    central.runner.catch_up()
    (item,) = scene.get("/api/v1/infractions")["items"]
    response = client.get(f"/api/v1/infractions/{item['infraction_id']}/export", headers=tokens.headers(Role.AGENCY))
    data = response.content
    assert bundle.read_zip(data)[bundle.VIOLATION] == spaced
    report = verify_export(data, radar_keys=[scene.keys["RA"].public_raw], central_key=central_key(central))
    assert report.verified
    assert [check.name for check in report.checks if check.status == "skip"] == ["violation.json canonical"]


@sqlite_only
def test_a_rotated_key_is_valid_only_from_its_rotation(
    client: TestClient, tokens: Tokens, central: Central, tmp_path: Path
) -> None:
    scene = Scene(client, tokens, central)
    rotated = RadarKey()
    added = client.post(
        "/api/v1/radars/RA/keys", json={"public_key": rotated.public_b64}, headers=tokens.headers(Role.ADMIN)
    )
    assert added.status_code == 201
    added_at_ms = next(
        key["added_at_ms"]
        for key in scene.get("/api/v1/radars/RA", Role.ADMIN)["keys"]
        if key["key_id"] == rotated.key_id
    )
    scene.keys["RA"] = rotated
    before, after = scene.record(at_ms=added_at_ms - 1), scene.record(at_ms=added_at_ms)
    pem = tmp_path / "radar.pub"
    pem.write_bytes(rotated.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    outcomes = {}
    for message in (before, after):
        item = next(i for i in scene.get("/api/v1/infractions")["items"] if i["event_id"] == message["event_id"])
        export = tmp_path / f"{message['seq']}.zip"
        export.write_bytes(
            client.get(
                f"/api/v1/infractions/{item['infraction_id']}/export", headers=tokens.headers(Role.AGENCY)
            ).content
        )
        outcomes[message["seq"]] = CliRunner().invoke(app, ["verify", str(export), "--radar-key", str(pem)])
    assert outcomes[after["seq"]].exit_code == 0, outcomes[after["seq"]].output
    assert outcomes[before["seq"]].exit_code == 1
    assert "FAIL radar key valid at detection" in outcomes[before["seq"]].output


BLOCK_CENTRAL_PACKAGES = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"sqlalchemy", "fastapi", "psycopg", "reportlab", "starlette"}:
            raise ModuleNotFoundError("not installed: " + name, name=name)
sys.meta_path.insert(0, Blocked())
from speedledger.cli import app
app()
"""


@sqlite_only
def test_verify_needs_no_database_nor_web_stack(
    exported: tuple[Scene, bytes, str], central: Central, tmp_path: Path
) -> None:
    scene, data, _ = exported
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    arguments = ["verify", str(path), "--radar-key", scene.keys["RA"].public_b64]
    arguments += ["--central-key", keys.b64encode(central_key(central))]
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_CENTRAL_PACKAGES, *arguments], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "verdict: VERIFIED"
