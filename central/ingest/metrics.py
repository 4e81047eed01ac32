"""The ingest's Prometheus metrics, kept out of the global registry (the API keeps one per app).

The API adds them to its registry with `registry.register(IngestCollector())`.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

MESSAGES = Counter(
    "speedledger_ingest_messages_total",
    "MQTT messages handled by the ingest, by kind, result and reason",
    ["kind", "result", "reason"],
    registry=None,
)
BATCH_SIZE = Histogram(
    "speedledger_ingest_batch_size",
    "Messages per ingest commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=None,
)
COMMIT_SECONDS = Histogram(
    "speedledger_ingest_commit_seconds", "Duration of one ingest commit (one transaction)", registry=None
)


class IngestCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        for metric in (MESSAGES, BATCH_SIZE, COMMIT_SECONDS):
            yield from metric.collect()
