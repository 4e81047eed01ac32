"""Closing retention windows: passages that led to no infraction become unreadable (CONTRACT §6).

`PassageForgetting.run_once()`, run by `speedledger central` at start and then periodically:

1. catches the projections up, so every passage recorded so far was paired, and every section
   infraction decided is in the infractions read model;
2. keeps the evidence of section infractions: the image of each passage in one is opened and copied
   into the evidence blobs (`ingest_evidence_blobs`, by SHA-256, in clear like a spot violation's),
   out of reach of the window key; the signed passages themselves are already in the infraction's
   `InfractionIssued` (`entry_message`, `exit_message`). This runs for every window, so an export can
   be made as soon as the images have arrived;
3. for each window due (`PassageWindows.closes_at_ms` passed): deletes its sealed images, then destroys
   its key (the vault zeroes it and checkpoints its WAL on SQLite).

Each step is idempotent and the key goes last, so a crash anywhere is repaired by the next run. The
sealed events and working rows left behind are ciphertext and keyed hashes with no key to open them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, delete, func, or_, select

from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.projection import infractions
from speedledger.central.ingest.sql import upsert
from speedledger.central.ingest.tables import evidence_blobs, passage_images
from speedledger.central.sections.pairing import pairing_passages
from speedledger.central.sections.retention import PassageWindows, Window

log = logging.getLogger(__name__)

PASSAGES_FORGOTTEN = Counter(
    "speedledger_passages_forgotten_total",
    "Passages that led to no infraction, made unreadable when their retention window closed",
    registry=None,
)
WINDOWS_CLOSED = Counter(
    "speedledger_passage_windows_closed_total", "Retention windows of passages closed (key destroyed)", registry=None
)


class ForgettingCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        for metric in (PASSAGES_FORGOTTEN, WINDOWS_CLOSED):
            yield from metric.collect()


@dataclass(frozen=True)
class Closed:
    """One run: the windows closed, the passages forgotten with them, and the images kept for infractions."""

    windows: int = 0
    forgotten: int = 0
    kept_images: int = 0


class PassageForgetting:
    def __init__(self, engine: Engine, windows: PassageWindows, catch_up: Callable[[], object]) -> None:
        """`catch_up`: the projection runner's `catch_up_to_now`."""
        self._engine = engine
        self._windows = windows
        self._catch_up = catch_up
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def interval_s(self) -> float:
        """A twentieth of the retention, between 1 s and 10 s: windows close at most that late, and an
        infraction's images are in its evidence that soon after they arrived."""
        return min(10.0, max(1.0, self._windows.retention_ms / 20_000))

    def run_once(self) -> Closed:
        self._catch_up()
        kept = self._keep_infraction_images()
        due = [window for window in self._windows.windows() if not self._windows.is_open(window)]
        forgotten = sum(self._close(window) for window in due)
        return Closed(len(due), forgotten, kept)

    def _keep_infraction_images(self) -> int:
        """Copy the sealed images of passages used in a section infraction into the evidence blobs."""
        in_infraction = select(infractions.c.entry_event_id).where(infractions.c.kind == InfractionKind.SECTION.value)
        exits = select(infractions.c.exit_event_id).where(infractions.c.kind == InfractionKind.SECTION.value)
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(passage_images)
                .outerjoin(evidence_blobs, evidence_blobs.c.sha256 == passage_images.c.image_sha256)
                .where(
                    passage_images.c.sealed.is_not(None),
                    evidence_blobs.c.sha256.is_(None),
                    or_(passage_images.c.event_id.in_(in_infraction), passage_images.c.event_id.in_(exits)),
                )
            ).all()
            kept = 0
            for row in rows:
                image = self._windows.open(Window.parse(row.window), row.sealed, row.event_id)
                if image is None:
                    continue
                values = {"sha256": row.image_sha256, "content": image, "size": len(image)}
                upsert(conn, evidence_blobs, {**values, "received_at_ms": row.received_at_ms}, keys=("sha256",))
                kept += 1
        return kept

    def _close(self, window: Window) -> int:
        """Forget one due window: its sealed images, then its key. Returns the passages forgotten."""
        passages = pairing_passages
        with self._engine.begin() as conn:
            forgotten = conn.execute(
                select(func.count())
                .select_from(passages)
                .where(passages.c.window == window.subject, passages.c.infraction_id.is_(None))
            ).scalar_one()
            conn.execute(delete(passage_images).where(passage_images.c.window == window.subject))
        self._windows.forget(window)
        PASSAGES_FORGOTTEN.inc(forgotten)
        WINDOWS_CLOSED.inc()
        log.info("closed the passage window %s: %d passages forgotten", window.subject, forgotten)
        return int(forgotten)

    # -- in the background ----------------------------------------------------------------------

    def start(self) -> None:
        """Run now, then every `interval_s`, on a daemon thread until `stop()`."""
        self._thread = threading.Thread(target=self._loop, name="passage-forgetting", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:  # a failed run is retried by the next one
                log.exception("closing passage windows failed; retrying in %.0f s", self.interval_s)
            self._stopping.wait(self.interval_s)
