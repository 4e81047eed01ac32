"""/health, /metrics, the OpenAPI document and Swagger UI; errors are JSON everywhere."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api import create_app
from speedledger.central.eventstore import NewEvent
from speedledger.central.projections.runner import ProjectionStatus
from tests.api.conftest import Tokens, make_central
from tests.api.factories import RadarKey, radar_body
from tests.fixtures.postgres import PostgresCluster


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here: what these tests check does not depend on the store."""
    return f"sqlite:///{tmp_path / 'central.db'}"


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def metric(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_health_reports_store_and_projection_lag(client: TestClient, central: Central, tokens: Tokens) -> None:
    client.post("/api/v1/radars", json=radar_body("H1", RadarKey(), verified=False), headers=tokens.headers(Role.ADMIN))
    response = client.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["store"] == {"reachable": True, "head_position": 1, "error": None}
    assert health["projections"]["radars"] == {"position": 1, "lag": 0, "error": None}

    # An event appended behind the projections' back (another process) shows as lag until caught up.
    central.store.append("elsewhere-1", [NewEvent(type="SomethingElse", data={})], 0)
    lagging = client.get("/health").json()
    assert lagging["store"]["head_position"] == 2
    assert lagging["projections"]["radars"]["lag"] == 1
    central.runner.catch_up()
    assert client.get("/health").json()["projections"]["radars"]["lag"] == 0


def test_health_is_503_when_the_store_is_gone(tmp_path: Path) -> None:
    directory = tmp_path / "db"
    central = make_central(directory)
    try:
        with TestClient(create_app(central)) as client:
            shutil.rmtree(directory)
            central.store.engine.dispose()
            response = client.get("/health")
            assert response.status_code == 503
            assert response.json()["status"] == "unavailable"
            assert response.json()["store"]["reachable"] is False
            assert samples(client)[metric("speedledger_eventstore_up")] == 0
    finally:
        central.close()


def test_metrics_count_requests_by_route_template(client: TestClient, tokens: Tokens) -> None:
    for radar_id in ("M1", "M2"):
        client.get(f"/api/v1/radars/{radar_id}", headers=tokens.headers(Role.ADMIN))
    client.get("/api/v1/radars/M1")
    client.get("/no/such/path")
    client.request("BREW", "/api/v1/radars")
    metrics = samples(client)
    route = "/api/v1/radars/{radar_id}"
    assert (
        metrics[
            ("speedledger_http_requests_total", frozenset({("method", "GET"), ("route", route), ("status", "404")}))
        ]
        == 2
    )
    assert (
        metrics[
            ("speedledger_http_requests_total", frozenset({("method", "GET"), ("route", route), ("status", "401")}))
        ]
        == 1
    )
    assert (
        metrics[
            (
                "speedledger_http_requests_total",
                frozenset({("method", "GET"), ("route", "unmatched"), ("status", "404")}),
            )
        ]
        == 1
    )
    assert (
        metrics[("speedledger_http_request_duration_seconds_count", frozenset({("method", "GET"), ("route", route)}))]
        == 3
    )
    assert metrics[("speedledger_eventstore_up", frozenset())] == 1
    assert ("speedledger_projection_lag_events", frozenset({("projection", "infractions")})) in metrics


def test_apps_do_not_share_metrics(tmp_path: Path) -> None:
    """No process-global registry: two apps (two centrals in one process) count separately."""
    first, second = make_central(tmp_path / "a"), make_central(tmp_path / "b")
    try:
        with TestClient(create_app(first)) as one, TestClient(create_app(second)) as two:
            one.get("/health")
            key = (
                "speedledger_http_requests_total",
                frozenset({("method", "GET"), ("route", "/health"), ("status", "200")}),
            )
            assert samples(one)[key] == 1
            assert key not in samples(two)
    finally:
        first.close()
        second.close()


def test_openapi_and_swagger(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {tag["name"] for tag in spec["tags"]} >= {
        "radars",
        "owners",
        "vehicles",
        "infractions",
        "events",
        "quarantine",
    }
    operation = spec["paths"]["/api/v1/infractions"]["get"]
    assert operation["tags"] == ["infractions"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "x-permission" in operation
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in spec["paths"]["/health"]["get"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text


def test_errors_are_json(client: TestClient, tokens: Tokens) -> None:
    for response in (
        client.get("/no/such/path"),
        client.delete("/health"),
        client.get("/api/v1/radars/X", headers=tokens.headers(Role.ADMIN)),
        client.post("/api/v1/radars", json=[], headers=tokens.headers(Role.ADMIN)),
    ):
        assert response.headers["content-type"] == "application/json"
        assert "detail" in response.json()


class StoppedProjectionRunner:
    """The runner's observation port, reporting one projection stopped on an error."""

    def status(self) -> list[ProjectionStatus]:
        return [
            ProjectionStatus(name="radars", position=3, head=5, error=None, failures=0),
            ProjectionStatus(name="infractions", position=1, head=5, error="IntegrityError: boom", failures=4),
        ]


def test_health_is_degraded_while_a_projection_is_stopped(central: Central) -> None:
    stopped = dataclasses.replace(central, runner=StoppedProjectionRunner())  # type: ignore[arg-type]
    with TestClient(create_app(stopped)) as client:
        response = client.get("/health")
        assert response.status_code == 200
        health = response.json()
        assert health["status"] == "degraded"
        assert health["projections"]["infractions"] == {"position": 1, "lag": 4, "error": "IntegrityError: boom"}
        assert health["projections"]["radars"]["lag"] == 2
        assert samples(client)[metric("speedledger_projection_failing", projection="infractions")] == 1


def test_oversized_body_is_413(client: TestClient, tokens: Tokens) -> None:
    body = b'{"name": "' + b"x" * (2 << 20) + b'"}'
    headers = tokens.headers(Role.REGISTRY) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/owners", content=body, headers=headers)
    assert response.status_code == 413
    assert "detail" in response.json()
    streamed = client.post("/api/v1/owners", content=iter([body[:1000], body[1000:]]), headers=headers)  # chunked
    assert streamed.status_code == 413
    assert streamed.json() == {"detail": f"request body over {1 << 20} bytes"}


def test_requests_after_a_postgresql_restart_succeed(
    tmp_path: Path, postgres_cluster: PostgresCluster, postgres_url: str, tokens: Tokens
) -> None:
    """The pool's connections all die with the server: the first read and write after it is back succeed."""
    central = make_central(tmp_path, postgres_url)
    try:
        with TestClient(create_app(central)) as client:
            operator = tokens.headers(Role.OPERATOR)
            created = client.post("/api/v1/radars", json=radar_body("R-1", RadarKey(), 90), headers=operator)
            assert created.status_code == 201, created.text
            assert client.get("/api/v1/radars/R-1", headers=operator).status_code == 200
            postgres_cluster.restart()
            assert client.get("/api/v1/radars/R-1", headers=operator).status_code == 200
            created = client.post("/api/v1/radars", json=radar_body("R-2", RadarKey(), 90), headers=operator)
            assert created.status_code == 201, created.text
    finally:
        central.close()
