"""What `/health` and `/metrics` report about central itself: the event store, projection lag and, in a
process that runs the ingest, the broker session."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Literal

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel

from speedledger.central.bootstrap import Central
from speedledger.central.ingest.mqtt import BrokerState

#: The ingest's broker session as it is now (`MqttSession.state`); None in a process without ingest.
BrokerProbe = Callable[[], BrokerState] | None

log = logging.getLogger(__name__)


class StoreHealth(BaseModel):
    reachable: bool
    #: Position of the newest event in the global log (null when unreachable).
    head_position: int | None = None
    error: str | None = None


class ProjectionHealth(BaseModel):
    position: int
    #: Events stored but not yet applied by this projection.
    lag: int
    #: The last error while the projection is stopped (it is retried with backoff), null when healthy.
    error: str | None = None


class BrokerHealth(BaseModel):
    #: The ingest holds its session with the broker (connected and subscribed).
    connected: bool
    #: Why not: refused (credentials, ACL), unreachable, or another central holds the client id.
    error: str | None = None


class Health(BaseModel):
    #: `ok`; `degraded` when a projection is stopped on an error (reads may be stale) or the ingest has
    #: no broker session (radars' messages wait at the broker); `unavailable` when the event store does
    #: not answer (HTTP 503).
    status: Literal["ok", "degraded", "unavailable"]
    store: StoreHealth
    projections: dict[str, ProjectionHealth]
    #: Null in a process that runs no ingest.
    broker: BrokerHealth | None = None


def check_health(central: Central, broker: BrokerProbe = None) -> Health:
    session = None if broker is None else BrokerHealth(**vars(broker()))
    try:
        statuses = central.runner.status()
        head = statuses[0].head if statuses else central.store.last_position()
    except Exception as exc:  # any driver error means the same to a load balancer: not reachable
        log.warning("health check: event store unreachable: %s", exc)
        return Health(
            status="unavailable",
            store=StoreHealth(reachable=False, error=type(exc).__name__),
            projections={},
            broker=session,
        )
    projections = {
        status.name: ProjectionHealth(position=status.position, lag=status.lag, error=status.error)
        for status in statuses
    }
    failing = any(p.error for p in projections.values()) or (session is not None and not session.connected)
    return Health(
        status="degraded" if failing else "ok",
        store=StoreHealth(reachable=True, head_position=head),
        projections=projections,
        broker=session,
    )


class CentralCollector(Collector):
    """Prometheus gauges read at scrape time with one health check (no background thread)."""

    def __init__(self, central: Central, broker: BrokerProbe = None) -> None:
        self._central = central
        self._broker = broker

    def collect(self) -> Iterable[Metric]:
        report = check_health(self._central, self._broker)
        if report.broker is not None:
            yield GaugeMetricFamily(
                "speedledger_mqtt_connected",
                "1 while the ingest holds its session with the MQTT broker.",
                value=1.0 if report.broker.connected else 0.0,
            )
        up = GaugeMetricFamily("speedledger_eventstore_up", "1 when the event store answers.")
        up.add_metric([], 1.0 if report.store.reachable else 0.0)
        yield up
        if report.store.head_position is not None:
            yield GaugeMetricFamily(
                "speedledger_eventstore_head_position",
                "Position of the newest stored event.",
                value=report.store.head_position,
            )
        lag = GaugeMetricFamily(
            "speedledger_projection_lag_events",
            "Events stored but not yet applied, by projection.",
            labels=["projection"],
        )
        failing = GaugeMetricFamily(
            "speedledger_projection_failing",
            "1 while a projection is stopped on an error (retried with backoff).",
            labels=["projection"],
        )
        for name, projection in report.projections.items():
            lag.add_metric([name], projection.lag)
            failing.add_metric([name], 1.0 if projection.error else 0.0)
        yield lag
        yield failing
