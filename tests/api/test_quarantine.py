"""GET /api/v1/quarantine over the ingest's quarantine table: filters, cursor pages, raw payload on request."""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.ingest.tables import quarantine
from tests.api.conftest import Tokens


def quarantine_rows(central: Central, *rows: tuple[str, str, bytes]) -> None:
    """Rows as the ingest writes them: (radar_id, reason, raw payload)."""
    with central.engine.begin() as conn:
        for index, (radar_id, reason, payload) in enumerate(rows):
            conn.execute(
                quarantine.insert().values(
                    received_at_ms=1_700_000_000_000 + index,
                    last_received_at_ms=1_700_000_000_000 + index,
                    topic=f"speedledger/v1/radars/{radar_id}/violations",
                    radar_id=radar_id,
                    event_id=None,
                    reason=reason,
                    detail=f"{reason} detail",
                    payload_sha256=hashlib.sha256(payload).hexdigest(),
                    payload_size=len(payload),
                    payload=payload,
                )
            )


def test_empty_until_something_is_rejected(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/api/v1/quarantine", headers=tokens.headers(Role.OPERATOR))
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_pages_and_filters(client: TestClient, tokens: Tokens, central: Central) -> None:
    quarantine_rows(
        central,
        ("Q1", "bad_signature", b"{}"),
        ("Q2", "unknown_radar", b"\xff\x00binary"),
        ("Q1", "malformed", b"not json"),
    )
    headers = tokens.headers(Role.AGENCY)
    first = client.get("/api/v1/quarantine", params={"limit": 2}, headers=headers).json()
    assert [item["radar_id"] for item in first["items"]] == ["Q1", "Q2"]
    assert all(item["payload_b64"] is None for item in first["items"])
    assert first["items"][0]["occurrences"] == 1
    assert first["items"][0]["detail"] == "bad_signature detail"
    rest = client.get("/api/v1/quarantine", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers).json()
    assert [item["reason"] for item in rest["items"]] == ["malformed"]
    assert rest["next_cursor"] is None

    only_q1 = client.get("/api/v1/quarantine", params={"radar_id": "Q1"}, headers=headers).json()["items"]
    assert [item["reason"] for item in only_q1] == ["bad_signature", "malformed"]
    with_payload = client.get(
        "/api/v1/quarantine", params={"reason": "unknown_radar", "include_payload": True}, headers=headers
    ).json()["items"]
    assert base64.b64decode(with_payload[0]["payload_b64"]) == b"\xff\x00binary"
    assert with_payload[0]["payload_size"] == 8


def test_bad_cursor_is_422(client: TestClient, tokens: Tokens) -> None:
    for cursor in ("!!", "WyJ4Il0", "W10"):  # not base64, ["x"] (wrong type), [] (wrong length)
        response = client.get("/api/v1/quarantine", params={"cursor": cursor}, headers=tokens.headers(Role.ADMIN))
        assert response.status_code == 422, cursor
