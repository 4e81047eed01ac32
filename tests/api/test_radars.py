"""Radars over HTTP: register, read, page, patch, rotate and revoke keys; conflicts and bad input."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central, central_config_key
from speedledger.shared.canonical import dumps
from speedledger.shared.keys import key_id
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, radar_body


def test_register_then_read(client: TestClient, tokens: Tokens) -> None:
    key = RadarKey()
    created = client.post("/api/v1/radars", json=radar_body("FR-69-001", key), headers=tokens.headers(Role.OPERATOR))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/radars/FR-69-001"
    radar = created.json()
    assert radar["radar_id"] == "FR-69-001"
    assert radar["speed_limit_kmh"] == 90
    assert radar["keys"][0]["key_id"] == key.key_id
    assert radar["online"] is False
    assert radar["last_seen_ms"] is None

    read = client.get("/api/v1/radars/FR-69-001", headers=tokens.headers(Role.AGENCY))
    assert read.status_code == 200
    assert read.json() == radar


def test_registering_twice_is_a_conflict(client: TestClient, tokens: Tokens) -> None:
    body = radar_body("FR-69-002", RadarKey())
    assert client.post("/api/v1/radars", json=body, headers=tokens.headers(Role.ADMIN)).status_code == 201
    again = client.post("/api/v1/radars", json=body, headers=tokens.headers(Role.ADMIN))
    assert again.status_code == 409
    assert "FR-69-002" in again.json()["detail"]


def test_list_is_paged_by_cursor_in_radar_id_order(client: TestClient, tokens: Tokens) -> None:
    ids = [f"R-{n:02d}" for n in (5, 1, 4, 2, 3)]
    for radar_id in ids:
        client.post("/api/v1/radars", json=radar_body(radar_id, RadarKey()), headers=tokens.headers(Role.ADMIN))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/radars", params=params, headers=tokens.headers(Role.OPERATOR)).json()
        seen += [radar["radar_id"] for radar in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)
    assert pages == 3


def test_patch_changes_only_given_fields(client: TestClient, tokens: Tokens) -> None:
    client.post("/api/v1/radars", json=radar_body("FR-69-003", RadarKey()), headers=tokens.headers(Role.ADMIN))
    patched = client.patch(
        "/api/v1/radars/FR-69-003",
        json={"speed_limit_kmh": 70, "name": "A7 km 12"},
        headers=tokens.headers(Role.OPERATOR),
    )
    assert patched.status_code == 200, patched.text
    radar = patched.json()
    assert (radar["speed_limit_kmh"], radar["name"], radar["latitude"]) == (70, "A7 km 12", 45.76)
    assert [period["speed_limit_kmh"] for period in radar["speed_limit_history"]] == [90, 70]


def test_rotate_then_revoke_key(client: TestClient, tokens: Tokens) -> None:
    first, second = RadarKey(), RadarKey()
    client.post("/api/v1/radars", json=radar_body("FR-69-004", first), headers=tokens.headers(Role.ADMIN))
    rotated = client.post(
        "/api/v1/radars/FR-69-004/keys", json={"public_key": second.public_b64}, headers=tokens.headers(Role.OPERATOR)
    )
    assert rotated.status_code == 201, rotated.text
    assert rotated.json() == {"radar_id": "FR-69-004", "key_id": second.key_id}

    revoked = client.delete(
        f"/api/v1/radars/FR-69-004/keys/{first.key_id}",
        params={"reason": "board replaced"},
        headers=tokens.headers(Role.OPERATOR),
    )
    assert revoked.status_code == 200, revoked.text
    keys = {key["key_id"]: key for key in revoked.json()["keys"]}
    assert keys[first.key_id]["revoked"] is True
    assert keys[first.key_id]["revoke_reason"] == "board replaced"
    assert keys[second.key_id]["revoked"] is False

    again = client.delete(f"/api/v1/radars/FR-69-004/keys/{first.key_id}", headers=tokens.headers(Role.OPERATOR))
    assert again.status_code == 409


def test_unknown_radar_and_key_are_404(client: TestClient, tokens: Tokens) -> None:
    assert client.get("/api/v1/radars/NOPE", headers=tokens.headers(Role.ADMIN)).status_code == 404
    client.post("/api/v1/radars", json=radar_body("FR-69-005", RadarKey()), headers=tokens.headers(Role.ADMIN))
    missing_key = client.delete("/api/v1/radars/FR-69-005/keys/0000000000000000", headers=tokens.headers(Role.ADMIN))
    assert missing_key.status_code == 404
    assert (
        client.patch("/api/v1/radars/NOPE", json={"name": "x"}, headers=tokens.headers(Role.ADMIN)).status_code == 404
    )


def test_bad_input_is_422_with_a_reason(client: TestClient, tokens: Tokens) -> None:
    headers = tokens.headers(Role.ADMIN)
    good = radar_body("FR-69-006", RadarKey())
    cases = [
        {**good, "radar_id": "has space"},
        {**good, "radar_id": "x" * 33},
        {**good, "latitude": 91},
        {**good, "speed_limit_kmh": "fast"},
        {**good, "speed_limit_kmh": 2**70},
        {**good, "public_key": "not base64!"},
        {**good, "public_key": "AAAA"},
        {**good, "unexpected": 1},
        {key: value for key, value in good.items() if key != "name"},
    ]
    for body in cases:
        response = client.post("/api/v1/radars", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"]
    not_json = client.post("/api/v1/radars", content=b"{", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 422
    assert client.get("/api/v1/radars", params={"cursor": "%%%"}, headers=headers).status_code == 422
    assert client.get("/api/v1/radars", params={"limit": 0}, headers=headers).status_code == 422
    assert client.get("/api/v1/radars/bad id!", headers=headers).status_code == 422


def test_config_key_is_the_key_that_signs_radar_configs(client: TestClient, tokens: Tokens, central: Central) -> None:
    response = client.get("/api/v1/config-key", headers=tokens.headers(Role.OPERATOR))
    assert response.status_code == 200, response.text
    published = response.json()
    signing_key = central_config_key(central.settings)
    assert published == signing_key.public_info()
    raw = base64.b64decode(published["public_key"])
    assert key_id(raw) == published["key_id"]
    signed = json.loads(signing_key.sign({"v": 1, "radar_id": "R", "speed_limit_kmh": 90, "issued_at_ms": 1}))
    signature = base64.b64decode(signed.pop("sig"))
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, dumps(signed))  # raises when it does not verify
    assert client.get("/api/v1/config-key", headers=tokens.headers(Role.OPERATOR)).json() == published  # stable
