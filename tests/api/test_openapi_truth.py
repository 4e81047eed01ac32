"""The OpenAPI document tells the truth about the server: statuses, bodies, bounds; it validates; and the
server refuses what the document refuses (issue 11). The fuzzer in test_schemathesis.py keeps it so."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from speedledger.central.auth import Role
from speedledger.central.entrypoints.api import create_app
from speedledger.central.radars.domain import MAX_LIMIT_KMH, MIN_LIMIT_KMH
from speedledger.central.registration.domain import MAX_FISCAL_POWER
from tests.api.conftest import Tokens, make_central
from tests.api.factories import RadarKey, radar_body

ADMIN = Role.ADMIN


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the document and the request checks do not depend on the store."""
    return f"sqlite:///{tmp_path / 'central.db'}"


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"][name]
    return found


def test_the_document_validates(spec: dict[str, Any]) -> None:
    validate(spec)


def test_422_detail_is_a_sentence_or_a_list(spec: dict[str, Any], client: TestClient, tokens: Tokens) -> None:
    operation = spec["paths"]["/api/v1/quarantine"]["get"]
    reference = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    detail = schema(spec, reference.rsplit("/", 1)[1])["properties"]["detail"]
    assert {option.get("type") for option in detail["anyOf"]} == {"string", "array"}
    cursor = client.get("/api/v1/radars", params={"cursor": "x"}, headers=tokens.headers(ADMIN))
    assert cursor.status_code == 422 and isinstance(cursor.json()["detail"], str)


def test_bounds_are_the_domain_bounds(spec: dict[str, Any]) -> None:
    limit = schema(spec, "RadarCreate")["properties"]["speed_limit_kmh"]
    assert (limit["minimum"], limit["maximum"]) == (MIN_LIMIT_KMH, MAX_LIMIT_KMH)
    power = schema(spec, "VehicleCreate")["properties"]["fiscal_power"]
    assert (power["minimum"], power["maximum"]) == (1, MAX_FISCAL_POWER)
    assert "pattern" in schema(spec, "OwnerCreate")["properties"]["email"]


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/api/v1/radars", {"201", "400", "401", "403", "409", "413", "422", "503"}),
        ("get", "/api/v1/radars/{radar_id}", {"200", "401", "403", "404", "422", "503"}),
        ("get", "/api/v1/quarantine", {"200", "401", "403", "422", "503"}),
        ("get", "/api/v1/config-key", {"200", "401", "403", "503"}),
        ("post", "/api/v1/infractions/{infraction_id}/pay", {"200", "400", "401", "403", "404", "409", "413", "422"}),
    ],
)
def test_every_status_the_server_sends_is_documented(
    spec: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    responses = spec["paths"][path][method]["responses"]
    assert statuses <= set(responses)
    error = responses["404" if "404" in responses else "401"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorOut"}


def test_the_event_stream_is_described_without_openapi_3_2_keywords(spec: dict[str, Any]) -> None:
    media = spec["paths"]["/api/v1/events/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert "itemSchema" not in media and media["schema"]["type"] == "string"


def test_405_allows_every_method_of_the_path(client: TestClient, tokens: Tokens) -> None:
    response = client.put("/api/v1/radars/R1", json={}, headers=tokens.headers(ADMIN))
    assert response.status_code == 405
    assert {method.strip() for method in response.headers["allow"].split(",")} == {"GET", "PATCH"}
    assert response.json() == {"detail": "Method Not Allowed"}


def test_quarantine_cursor_out_of_range_is_422(client: TestClient, tokens: Tokens) -> None:
    from speedledger.central.entrypoints.api.pagination import encode_cursor

    for after in (2**63, -1):
        response = client.get(
            "/api/v1/quarantine", params={"cursor": encode_cursor((after,))}, headers=tokens.headers(ADMIN)
        )
        assert response.status_code == 422, response.text


def test_duplicate_keys_in_a_body_are_400(client: TestClient, tokens: Tokens) -> None:
    body = b'{"name":"A","name":"B","birth_date":"1980-01-01","email":"a@example.org"}'
    response = client.post(
        "/api/v1/owners",
        content=body,
        headers={**tokens.headers(ADMIN), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "name" in response.json()["detail"]


@pytest.mark.parametrize("name", ["Bad\x00name", "line\nbreak", "bell\x07", "   "])
def test_control_characters_and_blank_text_are_refused(client: TestClient, tokens: Tokens, name: str) -> None:
    response = client.post(
        "/api/v1/radars", json={**radar_body("R1", RadarKey()), "name": name}, headers=tokens.headers(ADMIN)
    )
    assert response.status_code == 422
    assert client.get("/api/v1/radars/R1", headers=tokens.headers(ADMIN)).status_code == 404


def test_nul_in_a_query_is_refused(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/api/v1/quarantine", params={"reason": "a\x00b"}, headers=tokens.headers(ADMIN))
    assert response.status_code == 422


def test_a_plate_filter_without_letters_or_digits_is_422(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/api/v1/infractions", params={"plate": "---"}, headers=tokens.headers(ADMIN))
    assert response.status_code == 422


def test_a_token_with_an_empty_subject_is_401(client: TestClient, tokens: Tokens) -> None:
    import jwt

    from speedledger.central.auth.tokens import ALGORITHM, ISSUER
    from tests.api.conftest import SECRET

    claims = {"iss": ISSUER, "sub": "", "role": "admin", "iat": 1, "exp": 2**40}
    token = jwt.encode(claims, SECRET, algorithm=ALGORITHM)
    response = client.get("/api/v1/radars", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_swagger_ui_is_served_from_the_package(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "cdn" not in page.lower() and "https://" not in page
    assets = [part.split('"')[0] for part in page.split('src="')[1:]] + [
        part.split('"')[0] for part in page.split('href="')[1:] if part.endswith(".css") or ".css" in part[:200]
    ]
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        if asset.startswith("/"):
            assert client.get(asset).status_code == 200, asset


def test_reads_answer_503_with_retry_after_while_the_database_is_gone(tmp_path: Path, tokens: Tokens) -> None:
    directory = tmp_path / "db"
    central = make_central(directory)
    try:
        with TestClient(create_app(central), raise_server_exceptions=False) as client:
            shutil.rmtree(directory)
            central.store.engine.dispose()
            response = client.get("/api/v1/radars", headers=tokens.headers(ADMIN))
            assert response.status_code == 503
            assert int(response.headers["retry-after"]) > 0
            assert "detail" in response.json()
    finally:
        central.close()


def test_a_missing_named_config_key_is_503_not_500(tmp_path: Path, tokens: Tokens) -> None:
    from speedledger.central.bootstrap import Settings, bootstrap
    from tests.api.conftest import SECRET

    settings = Settings.from_env(
        {
            "SPEEDLEDGER_SECRET": SECRET,
            "SPEEDLEDGER_DB": f"sqlite:///{tmp_path / 'central.db'}",
            "SPEEDLEDGER_CONFIG_KEY": str(tmp_path / "typo" / "key.pem"),
        }
    )
    central = bootstrap(settings)
    try:
        with TestClient(create_app(central), raise_server_exceptions=False) as client:
            response = client.get("/api/v1/config-key", headers=tokens.headers(ADMIN))
        assert response.status_code == 503 and "misconfigured" in response.json()["detail"]
        assert not (tmp_path / "typo").exists()
    finally:
        central.close()
