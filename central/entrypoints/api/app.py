"""The app factory: everything the API needs comes from the Central passed in (no module globals)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from speedledger import __version__
from speedledger.central.auth import TokenAuthority
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.errors import install_error_handlers
from speedledger.central.entrypoints.api.health import BrokerProbe, CentralCollector
from speedledger.central.entrypoints.api.limits import BodyLimit
from speedledger.central.entrypoints.api.live import AppendSignal
from speedledger.central.entrypoints.api.metrics import HttpMetrics, MetricsMiddleware
from speedledger.central.entrypoints.api.openapi import install_openapi
from speedledger.central.entrypoints.api.routes import (
    config_key,
    dismissals,
    events,
    evidence,
    infractions,
    ops,
    owners,
    quarantine,
    radars,
    sections,
    vehicles,
)
from speedledger.central.entrypoints.api.security import bearer_scheme
from speedledger.central.entrypoints.dashboard import install_dashboard
from speedledger.central.ingest.metrics import IngestCollector
from speedledger.central.sections.forgetting import ForgettingCollector

DESCRIPTION = """\
The speedledger central REST API (CONTRACT §5). Every `/api/` path needs `Authorization: Bearer <token>`
(mint one with `speedledger token mint --role ROLE --subject NAME`); the role decides what you may do,
see docs/rest.md. Errors are JSON `{"detail": ...}`: 401 without a valid token, 403 for a wrong role,
400 unparsable body, 404 unknown resource, 409 conflicting state, 413 body over 1 MiB, 422 invalid input,
503 database unavailable (retry after `Retry-After` seconds).
"""

TAGS = [
    {"name": "radars", "description": "Radar fleet: registration, settings, signing keys, liveness."},
    {"name": "sections", "description": "Average-speed sections between an entry and an exit radar."},
    {"name": "owners", "description": "Vehicle owners; personal data is erasable."},
    {"name": "vehicles", "description": "Vehicles and their ownership history."},
    {"name": "infractions", "description": "Infractions with fines, points, status and evidence."},
    {"name": "events", "description": "The global event log, paged or as a live Server-Sent Events stream."},
    {"name": "quarantine", "description": "Radar messages central rejected, with the reason."},
    {"name": "operations", "description": "Health and Prometheus metrics (no token)."},
]

API_ROUTERS = (
    radars.router,
    sections.router,
    config_key.router,
    dismissals.router,
    owners.router,
    vehicles.router,
    infractions.router,
    evidence.router,
    events.router,
    quarantine.router,
)


#: Request bodies are small JSON documents; anything larger is refused with 413 before it is buffered.
MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class StreamSettings:
    """SSE timing: how often a stream looks for new events, and the idle time before a heartbeat."""

    poll_s: float = 0.25
    heartbeat_s: float = 10.0


def create_app(
    central: Central,
    *,
    authority: TokenAuthority | None = None,
    stream: StreamSettings | None = None,
    broker: BrokerProbe = None,
) -> FastAPI:
    """The API for `central`; tokens are checked with `central.settings.secret` unless `authority` is given.
    `broker` reports the ingest's broker session in /health and /metrics (a process with ingest)."""
    signal = AppendSignal(central.store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            signal.close()

    # Swagger UI from assets shipped in the package: /docs works offline (no CDN).
    app = FastAPIOffline(
        lifespan=lifespan,
        title="speedledger",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.central = central
    app.state.token_authority = authority or TokenAuthority(central.settings.secret)
    app.state.stream_settings = stream or StreamSettings()
    app.state.append_signal = signal
    app.state.broker = broker
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    registry.register(CentralCollector(central, broker))
    registry.register(IngestCollector())
    registry.register(ForgettingCollector())
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))
    install_error_handlers(app)
    for router in API_ROUTERS:
        app.include_router(router, dependencies=[Depends(bearer_scheme)])
    app.include_router(ops.router)
    install_dashboard(app, central)
    install_openapi(app)
    return app
