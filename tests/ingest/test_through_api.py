"""What the ingest stored, as agencies see it over the REST API: evidence, quarantine, who is online."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from speedledger.central.auth import Role, TokenAuthority
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.app import create_app
from speedledger.central.ingest.service import Ingest
from tests.ingest.harness import TINY_JPEG, RadarClient, SigningRadar, eventually, with_image

pytestmark = pytest.mark.mosquitto


def test_evidence_quarantine_and_liveness_over_http(
    ingest: Ingest,
    central: Central,
    register: Callable[[str], SigningRadar],
    radar_client: Callable[[str], RadarClient],
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    client.publish("status", json.dumps({"state": "online", "firmware": "t", "at_ms": 1}).encode(), retain=True)
    message = with_image(radar)
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    client.publish(f"evidence/{message['event_id']}", TINY_JPEG)
    tampered = {**radar.violation(), "plate": "AA001AA"}
    client.send(tampered)
    assert client.ack_for(tampered["event_id"])["reason"] == "bad_signature"

    headers = {"Authorization": f"Bearer {TokenAuthority(central.settings.secret).mint(Role.AGENCY, 'test')}"}
    with TestClient(create_app(central)) as http:

        def evidence() -> Any:
            central.runner.catch_up()
            items = http.get("/api/v1/infractions", headers=headers).json()["items"]
            if not items:
                return None
            response = http.get(f"/api/v1/infractions/{items[0]['infraction_id']}/evidence", headers=headers)
            return response if response.status_code == 200 else None

        response = eventually(evidence)
        assert response.headers["content-type"] == "image/jpeg"
        assert response.content == TINY_JPEG
        quarantined = http.get("/api/v1/quarantine", headers=headers).json()["items"]
        assert [(row["event_id"], row["reason"]) for row in quarantined] == [(tampered["event_id"], "bad_signature")]
        metrics = http.get("/metrics").text
        assert 'speedledger_ingest_messages_total{kind="violation",reason="bad_signature",result="rejected"}' in metrics

        def radar_view() -> Any:
            view = http.get("/api/v1/radars/R-1", headers=headers).json()
            return view if view["online"] else None

        assert eventually(radar_view)["last_seen_ms"] is not None
