"""Sections over HTTP: create, read, page, change the limit; conflicts, unknown radars and bad input;
section infractions and ambiguities as agencies and operators see them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.infractions.commands import RecordViolation
from speedledger.central.sections.commands import RecordPassage
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, radar_body, violation


def section_body(section_id: str = "A7-S1", **changes: Any) -> dict[str, Any]:
    body = {
        "section_id": section_id,
        "entry_radar_id": "FR-A7-201",
        "exit_radar_id": "FR-A7-202",
        "distance_m": 10_000,
        "speed_limit_kmh": 110,
    }
    return {**body, **changes}


def register_radars(client: TestClient, tokens: Tokens) -> None:
    for radar_id in ("FR-A7-201", "FR-A7-202"):
        response = client.post(
            "/api/v1/radars", json=radar_body(radar_id, RadarKey(), 130), headers=tokens.headers(Role.OPERATOR)
        )
        assert response.status_code == 201, response.text


def test_create_read_and_change_the_limit(client: TestClient, tokens: Tokens) -> None:
    register_radars(client, tokens)
    created = client.post("/api/v1/sections", json=section_body(), headers=tokens.headers(Role.OPERATOR))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/sections/A7-S1"
    section = created.json()
    assert {key: section[key] for key in section_body()} == section_body()
    assert [period["speed_limit_kmh"] for period in section["speed_limit_history"]] == [110]

    read = client.get("/api/v1/sections/A7-S1", headers=tokens.headers(Role.AGENCY))
    assert read.status_code == 200
    assert read.json() == section

    changed = client.patch(
        "/api/v1/sections/A7-S1", json={"speed_limit_kmh": 90}, headers=tokens.headers(Role.OPERATOR)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["speed_limit_kmh"] == 90
    assert [period["speed_limit_kmh"] for period in changed.json()["speed_limit_history"]] == [110, 90]


def test_list_is_paged_by_cursor(client: TestClient, tokens: Tokens) -> None:
    register_radars(client, tokens)
    ids = ["S-3", "S-1", "S-2"]
    for section_id in ids:
        client.post("/api/v1/sections", json=section_body(section_id), headers=tokens.headers(Role.ADMIN))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/sections", params=params, headers=tokens.headers(Role.OPERATOR)).json()
        seen += [section["section_id"] for section in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)


def test_errors_are_json(client: TestClient, tokens: Tokens) -> None:
    headers = tokens.headers(Role.OPERATOR)
    unknown_radar = client.post("/api/v1/sections", json=section_body(), headers=headers)
    assert unknown_radar.status_code == 404
    assert "FR-A7-201" in unknown_radar.json()["detail"]
    register_radars(client, tokens)
    same_radar = client.post("/api/v1/sections", json=section_body(exit_radar_id="FR-A7-201"), headers=headers)
    assert same_radar.status_code == 422
    assert "different" in same_radar.json()["detail"]
    too_short = client.post("/api/v1/sections", json=section_body(distance_m=5), headers=headers)
    assert too_short.status_code == 422
    assert client.post("/api/v1/sections", json=section_body(), headers=headers).status_code == 201
    again = client.post("/api/v1/sections", json=section_body(), headers=headers)
    assert again.status_code == 409
    missing = client.get("/api/v1/sections/nope", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "section 'nope' not found"}
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/sections"]["post"]["responses"]
    assert {"201", "404", "409", "422"} <= set(documented)


def test_section_infractions_over_http(client: TestClient, tokens: Tokens, central: Central) -> None:
    """A paired trip listed with `kind=section`, its two passages in full, and the ambiguities endpoint."""
    entry_key, exit_key = RadarKey(), RadarKey()
    for radar_id, key in (("FR-A7-201", entry_key), ("FR-A7-202", exit_key)):
        client.post("/api/v1/radars", json=radar_body(radar_id, key, 130), headers=tokens.headers(Role.ADMIN))
    client.post("/api/v1/sections", json=section_body(), headers=tokens.headers(Role.ADMIN))
    now = central.clock()
    entry = entry_key.sign(passage("FR-A7-201", entry_key, 1, now - 400_000))
    exit = exit_key.sign(passage("FR-A7-202", exit_key, 1, now - 100_000))  # 10 km in 300 s
    for message in (entry, exit):
        assert central.bus.handle(RecordPassage(message=message)) == "accepted"
    headers = tokens.headers(Role.AGENCY)
    sections = client.get("/api/v1/infractions", params={"kind": "section"}, headers=headers).json()["items"]
    assert [(item["kind"], item["average_speed_kmh"], item["exit_event_id"]) for item in sections] == [
        ("section", 120, exit["event_id"])
    ]
    assert client.get("/api/v1/infractions", params={"kind": "spot"}, headers=headers).json()["items"] == []
    detail = client.get(f"/api/v1/infractions/{sections[0]['infraction_id']}", headers=headers).json()
    assert (detail["device_message"], detail["entry_device_message"]) == (exit, entry)
    export = client.get(f"/api/v1/infractions/{sections[0]['infraction_id']}/export", headers=headers)
    assert export.status_code == 409  # the passages' images never arrived: no export without them
    assert "has not arrived" in export.json()["detail"]
    ambiguities = client.get("/api/v1/sections/A7-S1/ambiguities", headers=headers)
    assert (ambiguities.status_code, ambiguities.json()) == (200, [])
    assert client.get("/api/v1/sections/nope/ambiguities", headers=headers).status_code == 404


def passage(radar_id: str, key: RadarKey, seq: int, passed_at_ms: int) -> dict[str, Any]:
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "radar_id": radar_id,
        "seq": seq,
        "passed_at_ms": passed_at_ms,
        "clock_uncertainty_ms": 0,
        "direction": "approaching",
        "plate": "GZ123QK",
        "plate_confidence_pm": 990,
        "image_sha256": "a1560975691a0d4585b578058a0dcefb853971ed365c545443f77ed503842372",
        "firmware": "1.0.0",
        "key_id": key.key_id,
    }


def test_a_dismissed_pair_is_listed_with_the_dismissed_violations(
    client: TestClient, tokens: Tokens, central: Central
) -> None:
    """The entry radar inactive at its passage: the pair over the limit is dismissed (`radar_inactive`) and
    `GET /api/v1/dismissals` lists it, exit passage first-class, beside a spot violation dismissed for the
    same reason, in detection order and across pages."""
    admin = tokens.headers(Role.ADMIN)
    entry_key, exit_key = RadarKey(), RadarKey()
    for radar_id, key in (("FR-A7-201", entry_key), ("FR-A7-202", exit_key)):
        client.post("/api/v1/radars", json=radar_body(radar_id, key, 130), headers=admin)
    client.post("/api/v1/sections", json=section_body(distance_m=100), headers=admin)
    # A status change applies from now on (never before the registration).
    assert client.patch("/api/v1/radars/FR-A7-201", json={"status": "inactive"}, headers=admin).status_code == 200
    inactive_from = central.clock()
    spot = violation(entry_key, "FR-A7-201", 1, measured_speed_ckmh=15000, detected_at_ms=inactive_from + 5)
    entry = entry_key.sign(passage("FR-A7-201", entry_key, 2, inactive_from + 10))
    exit = exit_key.sign(passage("FR-A7-202", exit_key, 1, inactive_from + 1510))  # 100 m in 1.5 s
    time.sleep(1.6)  # no passage from the future
    assert central.bus.handle(RecordViolation(message=spot)) == "accepted"
    for message in (entry, exit):
        assert central.bus.handle(RecordPassage(message=message)) == "accepted"
    central.runner.catch_up_to_now()
    operator = tokens.headers(Role.OPERATOR)
    listed = client.get("/api/v1/dismissals", params={"reason": "radar_inactive"}, headers=operator)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [(item["event_id"], item["radar_id"], item["seq"], item["section_id"]) for item in items] == [
        (spot["event_id"], "FR-A7-201", 1, None),
        (exit["event_id"], "FR-A7-202", 1, "A7-S1"),
    ]
    pair = items[1]
    assert (pair["detected_at_ms"], pair["reason"]) == (exit["passed_at_ms"], "radar_inactive")
    assert exit["passed_at_ms"] <= pair["received_at_ms"] <= central.clock()
    assert "plate" not in pair
    first = client.get("/api/v1/dismissals", params={"limit": 1}, headers=operator).json()
    second = client.get(
        "/api/v1/dismissals", params={"limit": 1, "cursor": first["next_cursor"]}, headers=operator
    ).json()
    assert [item["event_id"] for item in first["items"] + second["items"]] == [spot["event_id"], exit["event_id"]]
    assert second["next_cursor"] is None
    by_radar = client.get("/api/v1/dismissals", params={"radar_id": "FR-A7-202"}, headers=operator).json()
    assert [item["event_id"] for item in by_radar["items"]] == [exit["event_id"]]
    # The entry radar's own list has its spot violation and the pair it began.
    by_entry = client.get("/api/v1/dismissals", params={"radar_id": "FR-A7-201"}, headers=operator).json()
    assert [item["event_id"] for item in by_entry["items"]] == [spot["event_id"], exit["event_id"]]
    other = client.get("/api/v1/dismissals", params={"reason": "radar_not_verified"}, headers=operator).json()
    assert other["items"] == []
