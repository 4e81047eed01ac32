"""`/health` and `/metrics`: unauthenticated, for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.health import Health, check_health

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The event store is unreachable."}},
)
def health(central: CentralDep, request: Request) -> JSONResponse:
    """Event store reachability, its head position, each projection's checkpoint and lag (events behind),
    and whether the ingest holds its broker session (`degraded` when not, with the reason)."""
    report = check_health(central, request.app.state.broker)
    return JSONResponse(status_code=503 if report.status == "unavailable" else 200, content=report.model_dump())


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text exposition: HTTP requests by route, event store head, projection lag."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
