"""Forgetting passages (SQLite and PostgreSQL): a closed retention window leaves its passages unreadable,
keeps the section infractions whole, and a rebuild afterwards decides nothing new, never twice."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import insert, select

from speedledger.central.bootstrap import Central, bootstrap
from speedledger.central.infractions import queries
from speedledger.central.infractions.events import violation_stream
from speedledger.central.ingest import rows
from speedledger.central.ingest.classify import EvidenceImage
from speedledger.central.ingest.queries import evidence_for_violation
from speedledger.central.ingest.tables import early_images, passage_images
from speedledger.central.sections.commands import RecordPassage
from speedledger.central.sections.events import PASSAGE_EVENTS, PassageRecorded
from speedledger.central.sections.passages import open_passage
from speedledger.central.sections.queries import list_ambiguities
from speedledger.central.sections.retention import HOUR_MS
from tests.central.conftest import FakeClock, World, make_central
from tests.central.section_road import Road

#: The section's longest travel time (10 km at 10 km/h): a pair may straddle two windows.
RETENTION_HOURS = 1
RETENTION_MS = RETENTION_HOURS * HOUR_MS
#: The start of a window, well after the fake clock's start (the contract vector's day, 08:00).
W1 = 1_764_316_800_000 + 4 * RETENTION_MS


@pytest.fixture
def road(database_url: str, clock: FakeClock) -> Iterator[Road]:
    plain = make_central(database_url, clock)
    plain.close()
    central = bootstrap(replace(plain.settings, passage_retention_hours=RETENTION_HOURS), clock=clock)
    try:
        yield Road(World(central, clock))
    finally:
        central.close()


def _record(central: Central, *messages: dict[str, Any]) -> None:
    for message in messages:
        central.bus.handle(RecordPassage(message=message))


def _opened(central: Central, message: dict[str, Any]) -> dict[str, Any] | None:
    (recorded,) = central.store.read_stream(violation_stream(message["radar_id"], message["seq"]))
    event = PASSAGE_EVENTS.decode(recorded.type, recorded.data)
    assert isinstance(event, PassageRecorded)
    assert message["plate"] not in str(recorded.data) and message["sig"] not in str(recorded.data)
    opened = open_passage(central.passages, event)
    return opened.message if opened is not None else None


def test_a_closed_window_forgets_its_passages_and_keeps_the_infraction(road: Road, clock: FakeClock) -> None:
    central, entry, exit = road.central, road.entry, road.exit
    clock.now = W1
    speeding = (entry.passage(passed_at_ms=W1 + 1000), exit.passage(passed_at_ms=W1 + 251_000))  # 143 km/h
    compliant = (
        entry.passage(passed_at_ms=W1 + 2000, plate="CQ777LM"),
        exit.passage(passed_at_ms=W1 + 602_000, plate="CQ777LM"),  # 60 km/h
    )
    _record(central, *speeding, *compliant)
    (infraction,) = road.infractions()
    assert [_opened(central, message) for message in compliant] == list(compliant)
    forgetting = central.forgetting
    assert forgetting.run_once().windows == 0  # nothing due yet

    clock.now = W1 + 2 * RETENTION_MS  # the window's end, plus the retention
    closed = forgetting.run_once()
    assert (closed.windows, closed.forgotten) == (1, 2)
    assert central.passages.windows() == []
    assert [_opened(central, message) for message in (*speeding, *compliant)] == [None] * 4
    with central.engine.connect() as conn:
        kept = queries.get_infraction(conn, infraction.infraction_id, central.cipher)
    assert kept is not None and (kept.entry_device_message, kept.device_message) == speeding
    assert kept.plate == "GZ123QK" and kept.fine_eur > 0
    assert forgetting.run_once() == type(closed)()  # idempotent: nothing left to close


def test_a_passage_whose_window_closed_is_forgotten_on_arrival(road: Road, clock: FakeClock) -> None:
    central = road.central
    clock.now = W1 + 2 * RETENTION_MS
    late = road.entry.passage(passed_at_ms=W1 + 1000)  # a radar offline for longer than retention
    _record(central, late)
    assert _opened(central, late) is None
    assert central.passages.windows() == []  # its window's key was not created again


def test_rebuild_after_expiry_gives_the_same_infractions_and_decides_nothing(road: Road, clock: FakeClock) -> None:
    central, entry, exit = road.central, road.entry, road.exit
    clock.now = W1 + 400_000
    # Within one window: an infraction. Straddling two: A1 (previous window) and A2 could both pair
    # with B: ambiguous, no infraction; A2 with B alone would be one (10 km in 300 s).
    speeding = (entry.passage(passed_at_ms=W1 + 1000), exit.passage(passed_at_ms=W1 + 251_000))
    first, second = (
        entry.passage(passed_at_ms=W1 - 60_000, plate="AB123CD"),
        entry.passage(passed_at_ms=W1 + 60_000, plate="AB123CD"),
    )
    last = exit.passage(passed_at_ms=W1 + 360_000, plate="AB123CD")
    _record(central, *speeding, first, second, last)
    before, head = road.infractions(), central.store.last_position()
    assert [item.entry_event_id for item in before] == [speeding[0]["event_id"]]
    with central.engine.connect() as conn:
        (ambiguity,) = list_ambiguities(conn, "A7-S1", central.passages)
    assert (ambiguity.plate, ambiguity.reason) == ("AB123CD", "several_candidates")

    clock.now = W1 + RETENTION_MS + 1000  # the first window is closed, the second still open
    assert central.forgetting.run_once().windows == 1
    assert _opened(central, first) is None and _opened(central, last) is not None
    for name in ("sections", "section-pairing", "infractions"):
        central.runner.rebuild(name)
    central.runner.catch_up()
    assert central.store.last_position() == head  # no decision appended, no second one
    assert road.infractions() == before
    with central.engine.connect() as conn:
        assert [item.reason for item in list_ambiguities(conn, "A7-S1", central.passages)] == []


def test_central_closes_due_windows_in_the_background_from_its_start(road: Road, clock: FakeClock) -> None:
    central = road.central
    clock.now = W1
    _record(central, road.entry.passage(passed_at_ms=W1 + 1000, plate="CQ777LM"))
    assert len(central.passages.windows()) == 1
    clock.now = W1 + 2 * RETENTION_MS
    forgetting = central.forgetting
    forgetting.start()  # `speedledger central` does this after starting its projections
    try:
        deadline = time.monotonic() + 10
        while central.passages.windows():
            assert time.monotonic() < deadline, "the due window was not closed at start"
            time.sleep(0.05)
    finally:
        forgetting.stop()


def _speeding_with_images(road: Road, label: str) -> tuple[tuple[bytes, bytes], tuple[dict[str, Any], dict[str, Any]]]:
    """Two images (`label` tells them from other tests') and the speeding pair of passages that name them."""
    images = (
        f"\xff\xd8 {label}entry photo \xff\xd9".encode("latin-1"),
        f"\xff\xd8 {label}exit photo \xff\xd9".encode("latin-1"),
    )
    speeding = (
        road.entry.passage(passed_at_ms=W1 + 1000, image_sha256=hashlib.sha256(images[0]).hexdigest()),
        road.exit.passage(passed_at_ms=W1 + 251_000, image_sha256=hashlib.sha256(images[1]).hexdigest()),
    )
    return images, speeding


def test_the_forgetting_repairs_an_infraction_image_left_sealed(road: Road, clock: FakeClock) -> None:
    """On PostgreSQL an image the ingest seals while its infraction is being projected is seen by neither
    transaction: the forgetting's next run keeps it, once."""
    central = road.central
    clock.now = W1
    images, speeding = _speeding_with_images(road, "")
    _record(central, *speeding)
    assert len(road.infractions()) == 1
    with central.engine.begin() as conn:  # as the ingest seals an image that is not (yet) in an infraction
        for message, image in zip(speeding, images, strict=True):
            event_id, window = message["event_id"], central.passages.window_of(message["passed_at_ms"]).subject
            rows.expect_passage_image(conn, central.passages, event_id, window, message["image_sha256"])
            rows.seal_passage_image(conn, central.passages, event_id, window, image, clock())

    def evidence() -> list[bytes | None]:
        with central.engine.connect() as conn:
            return [evidence_for_violation(conn, m["event_id"], now_ms=clock()).content for m in speeding]

    assert evidence() == [None, None]
    assert central.forgetting.run_once().kept_images == 2
    assert evidence() == list(images)
    assert central.forgetting.run_once().kept_images == 0


def test_the_forgetting_claims_an_early_image_its_passage_did_not_see(road: Road, clock: FakeClock) -> None:
    """On PostgreSQL an image sealed as early while its passage is being recorded in another transaction is
    seen by neither: the forgetting's next run seals it under its passage's window, then keeps it with the
    infraction, once."""
    central = road.central
    clock.now = W1
    images, speeding = _speeding_with_images(road, "early ")
    _record(central, *speeding)
    with central.engine.begin() as conn:  # the ingest's two transactions, neither seeing the other
        for message, image in zip(speeding, images, strict=True):
            event_id, window = message["event_id"], central.passages.window_of(message["passed_at_ms"]).subject
            arrived = EvidenceImage(event_id, message["image_sha256"], image)
            rows.record_arrival(conn, arrived, message["radar_id"], clock())
            rows.seal_early_image(conn, central.passages, arrived)
            conn.execute(insert(passage_images).values(event_id=event_id, window=window, image_sha256=arrived.sha256))

    def evidence() -> list[bytes | None]:
        with central.engine.connect() as conn:
            return [evidence_for_violation(conn, m["event_id"], now_ms=clock()).content for m in speeding]

    assert evidence() == [None, None]
    run = central.forgetting.run_once()
    assert (run.claimed_images, run.kept_images) == (2, 2)
    assert evidence() == list(images)
    with central.engine.connect() as conn:
        assert conn.execute(select(early_images)).all() == []
        sealed = conn.execute(select(passage_images.c.sealed)).scalars().all()
    assert len(sealed) == 2 and None not in sealed
    run = central.forgetting.run_once()
    assert (run.claimed_images, run.kept_images) == (0, 0)
