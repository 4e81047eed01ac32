"""The notice of infraction as PDF, read back with pdftotext (poppler-utils), one by one and in a batch."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.infractions.payment import payment_reference
from speedledger.central.ingest.tables import evidence_blobs
from speedledger.cli import app
from tests.api.conftest import Tokens
from tests.api.test_evidence_export import jpeg
from tests.api.test_infractions import Scene
from tests.api.test_registration import OWNER
from tests.conftest import missing_dependency
from tests.fixtures.postgres import sqlite_only


def pdf_text(document: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        missing_dependency("pdftotext (Debian poppler-utils, installed by scripts/system-deps.sh)")
    path = tmp_path / "notice.pdf"
    path.write_bytes(document)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(text.split())  # table cells wrap: compare with single spaces


@pytest.fixture
def scene(client: TestClient, tokens: Tokens, central: Central) -> Scene:
    return Scene(client, tokens, central)


def notice_url(scene: Scene) -> tuple[str, dict[str, object]]:
    image = jpeg()
    sha = hashlib.sha256(image).hexdigest()
    scene.record(measured_speed_ckmh=13150, image_sha256=sha)
    with scene.central.engine.begin() as conn:
        conn.execute(evidence_blobs.insert().values(sha256=sha, content=image, size=len(image), received_at_ms=1))
    (item,) = scene.get("/api/v1/infractions")["items"]
    return f"/api/v1/infractions/{item['infraction_id']}/notice.pdf", item


def test_the_notice_holds_plate_speeds_amounts_and_reference(scene: Scene, tmp_path: Path) -> None:
    url, item = notice_url(scene)
    response = scene.client.get(url, headers=scene.tokens.headers(Role.AGENCY))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content, tmp_path)
    reference = payment_reference(str(item["infraction_id"]))
    issued = datetime.fromtimestamp(int(item["issued_at_ms"]) / 1000, UTC)
    # Times are the agency's (SPEEDLEDGER_TIMEZONE), with the zone named.
    detected = datetime.fromtimestamp(int(item["detected_at_ms"]) / 1000, ZoneInfo(scene.central.settings.timezone))
    for expected in (
        "AB123CD",
        OWNER["name"],
        "Measured speed 131.50 km/h",
        "Retained speed 124 km/h",
        "Speed limit 90 km/h",
        "Fine (reduced) 90 EUR",
        "Fine (standard) 135 EUR",
        "Fine (increased) 375 EUR",
        "Points 3",
        reference,
        "TEST-VP-0001",
        "How to contest",
        issued.strftime("%Y-%m-%d"),
        "Date and time " + detected.strftime("%Y-%m-%d %H:%M:%S %Z"),
    ):
        assert expected in text, expected
    assert "/Subtype /Image" in response.content.decode("latin-1")  # the evidence photo is embedded


@sqlite_only
def test_no_personal_data_once_the_owner_is_erased(scene: Scene, tmp_path: Path) -> None:
    url, _ = notice_url(scene)
    erased = scene.client.delete(f"/api/v1/owners/{scene.owner_id}", headers=scene.tokens.headers(Role.REGISTRY))
    assert erased.status_code == 200
    text = pdf_text(scene.client.get(url, headers=scene.tokens.headers(Role.AGENCY)).content, tmp_path)
    assert OWNER["name"] not in text and OWNER["email"] not in text
    assert "personal data has been erased" in text


@sqlite_only
def test_unidentified_and_unknown(scene: Scene) -> None:
    scene.record(plate="")
    (item,) = scene.get("/api/v1/infractions", status="unidentified")["items"]
    headers = scene.tokens.headers(Role.AGENCY)
    unidentified = scene.client.get(f"/api/v1/infractions/{item['infraction_id']}/notice.pdf", headers=headers)
    assert unidentified.status_code == 409 and "no owner" in unidentified.json()["detail"]
    assert scene.client.get("/api/v1/infractions/nope/notice.pdf", headers=headers).status_code == 404


@sqlite_only
def test_batch_writes_one_notice_per_identified_infraction_in_the_range(
    scene: Scene, central: Central, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = [scene.record(), scene.record()]
    scene.record(plate="")  # unidentified: nobody to notify
    later = scene.record(at_ms=scene.now_ms + 86_400_000)
    day = datetime.fromtimestamp(scene.now_ms / 1000, UTC)
    monkeypatch.setenv("SPEEDLEDGER_DB", central.settings.db_url)
    out = tmp_path / "notices"
    result = CliRunner().invoke(
        app,
        [
            "notices",
            "--from",
            day.isoformat(),
            "--to",
            datetime.fromtimestamp(later["detected_at_ms"] / 1000, UTC).isoformat(),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 notices written" in result.output
    items = {item["event_id"]: item["infraction_id"] for item in scene.get("/api/v1/infractions")["items"]}
    assert sorted(path.name for path in out.iterdir()) == sorted(
        f"notice-{items[message['event_id']]}.pdf" for message in inside
    )
    assert "AB123CD" in pdf_text((out / f"notice-{items[inside[0]['event_id']]}.pdf").read_bytes(), tmp_path)
    bad = CliRunner().invoke(app, ["notices", "--from", "yesterday", "--to", "2026-01-01", "--out", str(out)])
    assert bad.exit_code == 2 and "--from" in bad.output


def test_batch_on_a_missing_database_is_one_line_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "absent.db"
    monkeypatch.setenv("SPEEDLEDGER_DB", f"sqlite:///{missing}")
    result = CliRunner().invoke(
        app, ["notices", "--from", "2026-01-01", "--to", "2026-01-02", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2, result.output
    assert "SPEEDLEDGER_DB" in result.output and "Traceback" not in result.output
    assert not missing.exists()
