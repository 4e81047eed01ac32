"""Owners and vehicles over HTTP: register, read, transfer with history, erase personal data."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from tests.api.conftest import Tokens

OWNER = {"name": "Camille Martin", "birth_date": "1984-03-09", "email": "camille@example.fr"}


def register_owner(client: TestClient, tokens: Tokens, **overrides: str) -> dict[str, Any]:
    response = client.post("/api/v1/owners", json=OWNER | overrides, headers=tokens.headers(Role.REGISTRY))
    assert response.status_code == 201, response.text
    owner: dict[str, Any] = response.json()
    return owner


def register_vehicle(client: TestClient, tokens: Tokens, plate: str, owner_id: str) -> dict[str, Any]:
    body = {"plate": plate, "brand": "Renault", "model": "Clio", "fiscal_power": 5, "owner_id": owner_id}
    response = client.post("/api/v1/vehicles", json=body, headers=tokens.headers(Role.REGISTRY))
    assert response.status_code == 201, response.text
    vehicle: dict[str, Any] = response.json()
    return vehicle


def test_register_and_read_owner(client: TestClient, tokens: Tokens) -> None:
    owner = register_owner(client, tokens)
    assert owner["owner_id"]
    assert (owner["name"], owner["birth_date"], owner["email"]) == (OWNER["name"], OWNER["birth_date"], OWNER["email"])
    assert owner["vehicles"] == []
    read = client.get(f"/api/v1/owners/{owner['owner_id']}", headers=tokens.headers(Role.AGENCY))
    assert read.status_code == 200
    assert read.json() == owner


def test_vehicle_with_ownership_history(client: TestClient, tokens: Tokens) -> None:
    first = register_owner(client, tokens)
    second = register_owner(client, tokens, name="Lou Bernard", email="lou@example.fr")
    vehicle = register_vehicle(client, tokens, "ab-123-cd", first["owner_id"])
    assert vehicle["plate"] == "AB123CD"
    first_from = vehicle["ownership_history"][0]["from_ms"]

    transfer_at = first_from + 60_000
    transferred = client.post(
        "/api/v1/vehicles/AB-123-CD/transfer",
        json={"owner_id": second["owner_id"], "effective_at_ms": transfer_at},
        headers=tokens.headers(Role.REGISTRY),
    )
    assert transferred.status_code == 200, transferred.text
    history = transferred.json()["ownership_history"]
    assert history == [
        {"owner_id": first["owner_id"], "from_ms": first_from, "to_ms": transfer_at},
        {"owner_id": second["owner_id"], "from_ms": transfer_at, "to_ms": None},
    ]
    assert transferred.json()["owner_id"] == second["owner_id"]

    held = client.get(f"/api/v1/owners/{second['owner_id']}", headers=tokens.headers(Role.REGISTRY)).json()
    assert [v["plate"] for v in held["vehicles"]] == ["AB123CD"]
    assert (
        client.get(f"/api/v1/owners/{first['owner_id']}", headers=tokens.headers(Role.REGISTRY)).json()["vehicles"]
        == []
    )


def test_erased_owner_shows_no_personal_data(client: TestClient, tokens: Tokens) -> None:
    owner = register_owner(client, tokens)
    register_vehicle(client, tokens, "EE111EE", owner["owner_id"])
    erased = client.delete(f"/api/v1/owners/{owner['owner_id']}", headers=tokens.headers(Role.REGISTRY))
    assert erased.status_code == 200, erased.text
    for response in (erased, client.get(f"/api/v1/owners/{owner['owner_id']}", headers=tokens.headers(Role.AGENCY))):
        body = response.json()
        assert body["erased"] is True
        assert (body["name"], body["birth_date"], body["email"]) == (None, None, None)
        text = response.text
        assert OWNER["name"] not in text and OWNER["email"] not in text and OWNER["birth_date"] not in text
    # The vehicle and its history stay.
    vehicle = client.get("/api/v1/vehicles/EE111EE", headers=tokens.headers(Role.AGENCY)).json()
    assert vehicle["owner_id"] == owner["owner_id"]
    # Nor does the event log leak it: events carry only the sealed envelope.
    events = client.get("/api/v1/events", params={"limit": 1000}, headers=tokens.headers(Role.ADMIN)).text
    assert OWNER["name"] not in events and OWNER["email"] not in events
    again = client.delete(f"/api/v1/owners/{owner['owner_id']}", headers=tokens.headers(Role.REGISTRY))
    assert again.status_code == 409


def test_conflicts_and_unknowns(client: TestClient, tokens: Tokens) -> None:
    owner = register_owner(client, tokens)
    register_vehicle(client, tokens, "CC222CC", owner["owner_id"])
    headers = tokens.headers(Role.REGISTRY)
    body = {"plate": "CC-222-CC", "brand": "Peugeot", "model": "208", "fiscal_power": 4, "owner_id": owner["owner_id"]}
    assert client.post("/api/v1/vehicles", json=body, headers=headers).status_code == 409
    assert (
        client.post("/api/v1/vehicles", json=body | {"plate": "DD1", "owner_id": "ghost"}, headers=headers).status_code
        == 404
    )
    assert client.get("/api/v1/owners/ghost", headers=headers).status_code == 404
    assert client.get("/api/v1/vehicles/ZZ999ZZ", headers=headers).status_code == 404
    same_owner = {"owner_id": owner["owner_id"], "effective_at_ms": 2_000_000_000_000}
    assert client.post("/api/v1/vehicles/CC222CC/transfer", json=same_owner, headers=headers).status_code == 409
    unknown = {"owner_id": owner["owner_id"], "effective_at_ms": 1}
    assert client.post("/api/v1/vehicles/ZZ999ZZ/transfer", json=unknown, headers=headers).status_code == 404


def test_bad_input_is_422(client: TestClient, tokens: Tokens) -> None:
    headers = tokens.headers(Role.REGISTRY)
    for body in (
        OWNER | {"birth_date": "1984-02-30"},
        OWNER | {"birth_date": "yesterday"},
        OWNER | {"email": "not-an-email"},
        OWNER | {"name": ""},
        {"name": "x"},
        OWNER | {"role": "admin"},
    ):
        response = client.post("/api/v1/owners", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
    owner = register_owner(client, tokens)
    vehicle = {"plate": "FF1", "brand": "B", "model": "M", "fiscal_power": 5, "owner_id": owner["owner_id"]}
    for bad in ({"fiscal_power": -1}, {"fiscal_power": 2**64}, {"plate": "---"}, {"plate": ""}):
        response = client.post("/api/v1/vehicles", json=vehicle | bad, headers=headers)
        assert response.status_code == 422, (bad, response.text)
    transfer = client.post(
        "/api/v1/vehicles/FF1/transfer", json={"owner_id": owner["owner_id"], "effective_at_ms": -5}, headers=headers
    )
    assert transfer.status_code == 422


def test_a_vehicle_registered_with_its_past_takes_a_transfer_inside_it(client: TestClient, tokens: Tokens) -> None:
    """`registered_at_ms` (optional): a register migrated with its history, or the simulator's past stream."""
    first = register_owner(client, tokens)
    second = register_owner(client, tokens, name="Lou Bernard", email="lou@example.fr")
    since = 1_700_000_000_000
    body = {"plate": "EF-456-GH", "brand": "Renault", "model": "Clio", "fiscal_power": 5}
    created = client.post(
        "/api/v1/vehicles",
        json=body | {"owner_id": first["owner_id"], "registered_at_ms": since},
        headers=tokens.headers(Role.REGISTRY),
    )
    assert created.status_code == 201, created.text
    assert created.json()["ownership_history"][0]["from_ms"] == since
    transferred = client.post(
        "/api/v1/vehicles/EF456GH/transfer",
        json={"owner_id": second["owner_id"], "effective_at_ms": since + 1000},
        headers=tokens.headers(Role.REGISTRY),
    )
    assert transferred.status_code == 200, transferred.text
    assert [o["to_ms"] for o in transferred.json()["ownership_history"]] == [since + 1000, None]
    refused = client.post(
        "/api/v1/vehicles",
        json=body | {"plate": "JK789LM", "owner_id": first["owner_id"], "registered_at_ms": -1},
        headers=tokens.headers(Role.REGISTRY),
    )
    assert refused.status_code == 422 and "detail" in refused.json()
