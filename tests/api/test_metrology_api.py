"""Radar metrology over HTTP: certificates at registration and later, radars coming due, lost violations."""

from __future__ import annotations

import time
from dataclasses import replace

from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.infractions.commands import RecordViolation
from speedledger.central.radars.metrology import DAY_MS
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, radar_body, violation
from tests.fixtures.metrology import VERIFIED
from tests.fixtures.postgres import sqlite_only

RADARS = "/api/v1/radars"


def certificate(verified_at_ms: int, valid_for_days: int) -> dict[str, object]:
    return replace(
        VERIFIED, verified_at_ms=verified_at_ms, valid_until_ms=verified_at_ms + valid_for_days * DAY_MS
    ).fields()


@sqlite_only
def test_radars_coming_due_and_renewal(client: TestClient, tokens: Tokens) -> None:
    operator = tokens.headers(Role.OPERATOR)
    now_ms = int(time.time() * 1000)
    year_ago = now_ms - 355 * DAY_MS
    for radar_id, metrology in (
        ("SOON", [certificate(year_ago, 365)]),  # lapses in about 10 days
        ("LATER", [certificate(now_ms - DAY_MS, 365)]),
        ("NEVER", []),
    ):
        body = {**radar_body(radar_id, RadarKey(), verified=False), "metrology": metrology}
        assert client.post(RADARS, json=body, headers=operator).status_code == 201
    due = client.get(RADARS, params={"verification_due_within_days": 30}, headers=operator).json()["items"]
    assert [radar["radar_id"] for radar in due] == ["NEVER", "SOON"]
    assert due[1]["metrology"] == [certificate(year_ago, 365)]
    all_radars = client.get(RADARS, headers=operator).json()["items"]
    assert len(all_radars) == 3

    renewed = client.post(f"{RADARS}/SOON/metrology", json=certificate(now_ms - DAY_MS, 365), headers=operator)
    assert renewed.status_code == 201 and len(renewed.json()["metrology"]) == 2
    due = client.get(RADARS, params={"verification_due_within_days": 30}, headers=operator).json()["items"]
    assert [radar["radar_id"] for radar in due] == ["NEVER"]


@sqlite_only
def test_bad_certificates_are_422_and_agencies_cannot_record(client: TestClient, tokens: Tokens) -> None:
    admin = tokens.headers(Role.ADMIN)
    assert client.post(RADARS, json=radar_body("R1", RadarKey()), headers=admin).status_code == 201
    url = f"{RADARS}/R1/metrology"
    future = certificate(int(time.time() * 1000) + DAY_MS, 365)
    for body in (
        {**VERIFIED.fields(), "kind": "calibration"},
        {**VERIFIED.fields(), "certificate_sha256": "xyz"},
        {**VERIFIED.fields(), "valid_until_ms": VERIFIED.verified_at_ms},
        future,
    ):
        response = client.post(url, json=body, headers=admin)
        assert response.status_code == 422, body
        assert "detail" in response.json()
    assert client.post(url, json=VERIFIED.fields(), headers=tokens.headers(Role.AGENCY)).status_code == 403
    assert client.post(f"{RADARS}/R9/metrology", json=VERIFIED.fields(), headers=admin).status_code == 404


def test_violations_of_an_unverified_radar_are_listed_for_the_operator(
    client: TestClient, tokens: Tokens, central: Central
) -> None:
    key = RadarKey()
    assert (
        client.post(RADARS, json=radar_body("R1", key, verified=False), headers=tokens.headers(Role.ADMIN)).status_code
        == 201
    )
    message = violation(key, "R1", 1, measured_speed_ckmh=15000)
    assert central.bus.handle(RecordViolation(message=message)) == "accepted"
    listed = client.get(
        "/api/v1/dismissals", params={"reason": "radar_not_verified"}, headers=tokens.headers(Role.OPERATOR)
    )
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert (item["event_id"], item["radar_id"], item["reason"]) == (message["event_id"], "R1", "radar_not_verified")
    assert "plate" not in item
    assert (
        client.get(
            "/api/v1/dismissals", params={"reason": "not_over_limit"}, headers=tokens.headers(Role.OPERATOR)
        ).json()["items"]
        == []
    )
    assert (
        client.get("/api/v1/dismissals", params={"reason": "bogus"}, headers=tokens.headers(Role.OPERATOR)).status_code
        == 422
    )
    assert client.get("/api/v1/infractions", headers=tokens.headers(Role.AGENCY)).json()["items"] == []
