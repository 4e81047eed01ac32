"""Infractions over HTTP: filters, keyset pagination, detail with the signed message, lifecycle, evidence."""

from __future__ import annotations

import hashlib
import io
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.infractions.commands import RecordViolation
from speedledger.central.ingest.tables import evidence_blobs
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, radar_body, violation
from tests.api.test_registration import register_owner, register_vehicle

LIST = "/api/v1/infractions"


class Scene:
    """Two radars, an owner with a vehicle, and a helper recording signed violations."""

    def __init__(self, client: TestClient, tokens: Tokens, central: Central) -> None:
        self.client, self.tokens, self.central = client, tokens, central
        self.keys = {"RA": RadarKey(), "RB": RadarKey()}
        for radar_id, key in self.keys.items():
            response = client.post("/api/v1/radars", json=radar_body(radar_id, key), headers=tokens.headers(Role.ADMIN))
            assert response.status_code == 201, response.text
        self.owner_id = register_owner(client, tokens)["owner_id"]
        register_vehicle(client, tokens, "AB123CD", self.owner_id)
        self.seq = 0
        self.now_ms = int(time.time() * 1000)

    def record(self, radar_id: str = "RA", *, at_ms: int | None = None, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        detected_at_ms = self.now_ms + self.seq if at_ms is None else at_ms
        message = violation(self.keys[radar_id], radar_id, self.seq, detected_at_ms=detected_at_ms, **fields)
        assert self.central.bus.handle(RecordViolation(message=message)) == "accepted"
        return message

    def get(self, path: str, role: Role = Role.AGENCY, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.tokens.headers(role))
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None, role: Role = Role.AGENCY) -> Any:
        return self.client.post(path, json=body, headers=self.tokens.headers(role, subject="agent-007"))


@pytest.fixture
def scene(client: TestClient, tokens: Tokens, central: Central) -> Scene:
    return Scene(client, tokens, central)


def test_item_has_the_contract_fields(scene: Scene) -> None:
    message = scene.record(measured_speed_ckmh=10432)
    [item] = scene.get(LIST)["items"]
    assert item["event_id"] == message["event_id"]
    assert (item["radar_id"], item["plate"], item["owner_id"]) == ("RA", "AB123CD", scene.owner_id)
    assert item["detected_at_ms"] == message["detected_at_ms"]
    assert (item["speed_limit_kmh"], item["measured_speed_kmh"], item["retained_speed_kmh"]) == (90, 104.32, 99)
    assert (item["fine_eur"], item["points"], item["status"]) == (68, 1, "issued")
    assert item["infraction_id"]


def test_filters(scene: Scene) -> None:
    scene.record("RA")
    scene.record("RB")
    scene.record("RA", plate="ZZ999ZZ")
    base = scene.now_ms
    assert {i["radar_id"] for i in scene.get(LIST, radar_id="RB")["items"]} == {"RB"}
    assert len(scene.get(LIST, radar_id="RA")["items"]) == 2
    assert len(scene.get(LIST, plate="ab-123-cd")["items"]) == 2
    assert len(scene.get(LIST, owner_id=scene.owner_id)["items"]) == 2
    [unidentified] = scene.get(LIST, status="unidentified")["items"]
    assert (unidentified["plate"], unidentified["owner_id"]) == ("ZZ999ZZ", None)
    assert [i["detected_at_ms"] for i in scene.get(LIST, from_ms=base + 2, to_ms=base + 3)["items"]] == [base + 2]
    assert scene.get(LIST, radar_id="RA", status="paid")["items"] == []


def test_cursor_pages_are_stable_while_new_infractions_arrive(scene: Scene) -> None:
    same_instant = scene.now_ms + 100
    for _ in range(4):
        scene.record(at_ms=same_instant)  # ties on detected_at_ms: ordered by infraction_id
    for _ in range(3):
        scene.record()
    expected = [i["infraction_id"] for i in scene.get(LIST, limit=500)["items"]]
    assert len(expected) == 7

    seen: list[str] = []
    page = scene.get(LIST, limit=3)
    seen += [i["infraction_id"] for i in page["items"]]
    scene.record(at_ms=scene.now_ms + 1000)  # newer than everything: lands before the cursor, not in later pages
    while page["next_cursor"]:
        page = scene.get(LIST, limit=3, cursor=page["next_cursor"])
        seen += [i["infraction_id"] for i in page["items"]]
    assert seen == expected


def test_detail_keeps_the_signed_message(scene: Scene) -> None:
    message = scene.record()
    [item] = scene.get(LIST)["items"]
    detail = scene.get(f"{LIST}/{item['infraction_id']}")
    assert detail["device_message"] == message
    assert detail["owner_name"] == "Camille Martin"
    assert {key: detail[key] for key in item} == item


def test_lifecycle(scene: Scene) -> None:
    scene.record()
    scene.record()
    first, second = (i["infraction_id"] for i in scene.get(LIST)["items"])

    paid = scene.post(f"{LIST}/{first}/pay", {"reference": "TX-1"})
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert paid.json()["history"][-1]["actor"] == "agent-007"
    assert scene.post(f"{LIST}/{first}/pay").status_code == 409
    assert scene.post(f"{LIST}/{first}/cancel").status_code == 409

    assert scene.post(f"{LIST}/{second}/contest", {"reason": "not me"}).json()["status"] == "contested"
    assert scene.post(f"{LIST}/{second}/uphold").json()["status"] == "issued"
    assert (
        scene.post(f"{LIST}/{second}/cancel", {"reason": "radar calibration expired"}).json()["status"] == "cancelled"
    )
    assert [i["status"] for i in scene.get(LIST)["items"]] == ["paid", "cancelled"]

    assert scene.post(f"{LIST}/nope/pay").status_code == 404
    assert scene.post(f"{LIST}/{second}/contest", {"reason": "x" * 501}).status_code == 422
    assert scene.post(f"{LIST}/{second}/contest", {"unknown": 1}).status_code == 422


def test_evidence_when_the_radar_sent_no_image(scene: Scene) -> None:
    scene.record(image_sha256="")
    [item] = scene.get(LIST)["items"]
    response = scene.client.get(f"{LIST}/{item['infraction_id']}/evidence", headers=scene.tokens.headers(Role.AGENCY))
    assert response.status_code == 404
    assert response.json() == {"detail": "the radar sent no image for this infraction"}
    unknown = scene.client.get(f"{LIST}/nope/evidence", headers=scene.tokens.headers(Role.AGENCY))
    assert unknown.status_code == 404


BAD_QUERIES: list[dict[str, Any]] = [
    {"limit": 0},
    {"limit": 501},
    {"limit": "ten"},
    {"status": "fined"},
    {"from_ms": -1},
    {"to_ms": 2**64},
    {"radar_id": "no spaces"},
    {"cursor": "not-a-cursor"},
    {"cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5Ong="},  # "99999999999999999999999:x": beyond 64-bit
    {"cursor": "x" * 300},
]


def test_bad_query_is_422(scene: Scene) -> None:
    for params in BAD_QUERIES:
        response = scene.client.get(LIST, params=params, headers=scene.tokens.headers(Role.AGENCY))
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"]


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_evidence_is_served_once_it_arrived(scene: Scene) -> None:
    image = jpeg()
    sha = hashlib.sha256(image).hexdigest()
    scene.record(image_sha256=sha)
    [item] = scene.get(LIST)["items"]
    url = f"{LIST}/{item['infraction_id']}/evidence"

    pending = scene.client.get(url, headers=scene.tokens.headers(Role.AGENCY))
    assert pending.status_code == 404
    assert pending.json() == {"detail": "the evidence image has not arrived yet"}
    assert int(pending.headers["retry-after"]) > 0

    with scene.central.engine.begin() as conn:  # as the ingest stores an image from evidence/{event_id}
        conn.execute(evidence_blobs.insert().values(sha256=sha, content=image, size=len(image), received_at_ms=1))
    served = scene.client.get(url, headers=scene.tokens.headers(Role.AGENCY))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content == image
    assert served.headers["etag"] == f'"{sha}"'


def test_erased_owner_leaves_infractions_without_personal_data(scene: Scene) -> None:
    scene.record()
    [item] = scene.get(LIST)["items"]
    erased = scene.client.delete(f"/api/v1/owners/{scene.owner_id}", headers=scene.tokens.headers(Role.REGISTRY))
    assert erased.status_code == 200
    response = scene.client.get(f"{LIST}/{item['infraction_id']}", headers=scene.tokens.headers(Role.AGENCY))
    detail = response.json()
    assert (detail["owner_id"], detail["owner_name"], detail["owner_erased"]) == (scene.owner_id, None, True)
    assert "Camille" not in response.text and "camille@example.fr" not in response.text
    assert detail["fine_eur"] == item["fine_eur"]  # the infraction itself stays
