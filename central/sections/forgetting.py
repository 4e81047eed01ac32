"""Closing retention windows: passages that led to no infraction become unreadable (CONTRACT §6).

`PassageForgetting.run_once()`, run by `speedledger central` at start and then periodically:

1. catches the projections up, so every passage recorded so far was paired, and every section
   infraction decided is in the infractions read model;
2. repairs the images: an image that came before its message (kept sealed under the current window,
   `rows.seal_early_image`) is normally claimed in the transaction that records its passage
   (`ingest/writer.py`) or projects its violation (`ingest/projection.py`); one that arrived while that
   transaction ran, on PostgreSQL, is claimed now (`rows.claim_early_images`). Then the evidence of
   section infractions: an image of a passage in one that is still only sealed is opened and copied into
   the evidence blobs (`rows.keep_passage_images`). That copy is normally made when the infraction is projected
   (`ingest/projection.py`) or when the image arrives after it (`ingest/writer.py`); only an image
   arriving while its infraction is being projected, on PostgreSQL (read committed: neither transaction
   sees the other's), is left for this run. The signed passages themselves are in the infraction's
   `InfractionIssued` (`entry_message`, `exit_message`);
3. for each window due (`PassageWindows.closes_at_ms` passed): deletes its sealed images (their rows
   stay, so an image arriving later is dropped as a forgotten passage's) and the early images sealed
   under it that nothing claimed, then destroys its key (the vault zeroes it and checkpoints its WAL on
   SQLite).

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
from sqlalchemy import Engine, delete, func, select, update

from speedledger.central.infractions.queries import in_section_infraction
from speedledger.central.ingest.rows import claim_early_images, keep_passage_images
from speedledger.central.ingest.tables import early_images, passage_images
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
    """One run: the windows closed, the passages forgotten with them, the images its repair claimed for
    their message and kept for an infraction, and the early images that nothing claimed, deleted."""

    windows: int = 0
    forgotten: int = 0
    kept_images: int = 0
    claimed_images: int = 0
    unclaimed_images: int = 0


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
        infraction's image missed by a race (step 2) is repaired that soon."""
        return min(10.0, max(1.0, self._windows.retention_ms / 20_000))

    def run_once(self) -> Closed:
        self._catch_up()
        with self._engine.begin() as conn:
            claimed = claim_early_images(conn, self._windows)
        kept = self._keep_infraction_images()
        due = [window for window in self._windows.windows() if not self._windows.is_open(window)]
        closed = [self._close(window) for window in due]
        forgotten, unclaimed = sum(passages for passages, _ in closed), sum(images for _, images in closed)
        return Closed(len(due), forgotten, kept, claimed, unclaimed)

    def _keep_infraction_images(self) -> int:
        """Repair: the images of passages in a section infraction that are still only sealed (on PostgreSQL,
        one that arrived while its infraction was being projected) are kept in the evidence blobs now."""
        with self._engine.begin() as conn:
            return keep_passage_images(conn, self._windows, in_section_infraction(passage_images.c.event_id))

    def _close(self, window: Window) -> tuple[int, int]:
        """Forget one due window: its sealed images, then its key. Returns the passages forgotten and the
        early images that nothing claimed."""
        passages = pairing_passages
        with self._engine.begin() as conn:
            forgotten = conn.execute(
                select(func.count())
                .select_from(passages)
                .where(passages.c.window == window.subject, passages.c.infraction_id.is_(None))
            ).scalar_one()
            # Its images go; the rows stay (event id, window, hash): an image arriving later is known as a
            # forgotten passage's and dropped, not stored as an early one.
            closed = passage_images.c.window == window.subject
            conn.execute(update(passage_images).where(closed).values(sealed=None))
            unclaimed = conn.execute(delete(early_images).where(early_images.c.window == window.subject)).rowcount
        self._windows.forget(window)
        PASSAGES_FORGOTTEN.inc(forgotten)
        WINDOWS_CLOSED.inc()
        log.info(
            "closed the passage window %s: %d passages forgotten, %d early images unclaimed",
            window.subject,
            forgotten,
            unclaimed,
        )
        return int(forgotten), int(unclaimed)

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
