"""The query planner's statistics on SQLite, so the read models' lists use their most selective index.

PostgreSQL gathers its own (autovacuum runs ANALYZE). SQLite has none until `ANALYZE` runs, and then
picks between two usable indexes by their shape alone: at 1M infractions (bench/query_bench.py)
`?owner_id=X&kind=spot` walked the whole kind index (9.4 s) instead of the owner's few rows (1.6 ms),
`?owner_id=X&status=paid` the status index (532 ms against 0.1 ms). A sampled ANALYZE
(`analysis_limit`) takes milliseconds at that size. The statistics describe the tables' shape (rows
per plate, per owner, per status), which changes slowly: they are refreshed when central starts, every
hour, and after a rebuild (on SQLite the swap recreates the indexes, which drops their statistics).
"""

from __future__ import annotations

import logging
import threading

from speedledger.central.eventstore.port import EventStore

log = logging.getLogger(__name__)

#: Rows ANALYZE samples per index: enough for the planner's choices, milliseconds at 1M rows.
ANALYSIS_LIMIT = 1000
REFRESH_INTERVAL_S = 3600.0


def refresh_statistics(store: EventStore) -> bool:
    """A sampled ANALYZE of every table, on SQLite; False (nothing done) on other databases."""
    if store.engine.dialect.name != "sqlite":
        return False
    with store.transaction() as tx:
        tx.connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        tx.connection.exec_driver_sql("ANALYZE")
    return True


class StatisticsRefresher:
    """`refresh_statistics` at start and then every `interval` seconds, in a daemon thread."""

    def __init__(self, store: EventStore, interval: float = REFRESH_INTERVAL_S) -> None:
        self._store = store
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or self._store.engine.dialect.name != "sqlite":
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="planner-statistics", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                refresh_statistics(self._store)
            except Exception:  # stale statistics slow some lists down; they never make central stop
                log.exception("cannot refresh the query planner's statistics; next try in %.0f s", self._interval)
            self._stopping.wait(self._interval)
