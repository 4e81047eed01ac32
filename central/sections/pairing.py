"""The process manager that pairs entry and exit passages of a section into section infractions.

It runs as a checkpointed projection (like the infractions' process manager): its working tables
(sections' radars, passages waiting to pair, ambiguous pairs) and the infractions it appends commit
with its checkpoint, so a replay or a rebuild makes the same pairs, and an infraction already issued
(stream `infraction-{id}` at NO_STREAM) is never decided again.

A passage pairs when the other end arrives, whichever comes first (radars may be offline for hours):
an exit pairs with the entry of the same plate within the section's plausible travel time when that
entry has no other possible exit and the exit no other possible entry; otherwise the passages are
listed as ambiguous for an operator and give no infraction. A passage arriving late that would have
made an already decided pair ambiguous is listed too; the decision stands (one decision, for ever).
A passage below the confidence threshold never pairs (a misread plate at one end gives nothing). A
passage is an entry at most once and an exit at most once, and it is in at most one infraction.

Plates are never kept in clear (`retention.py`): the working table holds each passage's plate as an
HMAC under its retention window's key (`plate_tag`), and a passage looks for its partner with its own
plate's tag in each window that can hold it (within `max_travel_ms`, so at most a few). A passage whose
window is closed is forgotten: it pairs with nothing. A passage whose partner's windows may already be
closed decides nothing either (a forgotten passage could have made the pair ambiguous), so a rebuild
after keys were destroyed makes fewer pairs, never another one, and never decides twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    false,
    or_,
    select,
)

from speedledger.central.aggregates import to_new_event
from speedledger.central.eventstore.port import (
    NO_STREAM,
    DuplicateEvent,
    EventStore,
    RecordedEvent,
    Transaction,
    WrongExpectedVersion,
)
from speedledger.central.infractions.domain import decision_event_id, decision_metadata
from speedledger.central.infractions.events import (
    ViolationDismissed,
    dismissal_stream,
    infraction_stream,
    violation_stream,
)
from speedledger.central.infractions.fines import FineSchedule
from speedledger.central.messages import Clock, EventTypes
from speedledger.central.radars.lookup import load_radar
from speedledger.central.registration.lookup import load_vehicle
from speedledger.central.sections.decision import decide_pair
from speedledger.central.sections.domain import SectionState
from speedledger.central.sections.events import PASSAGE_EVENTS, PassageRecorded, SectionCreated
from speedledger.central.sections.lookup import load_section
from speedledger.central.sections.passages import open_passage
from speedledger.central.sections.retention import PassageWindows, Window

#: Plate confidence a passage needs to pair (CONTRACT §6 "the deployment's threshold"), in 1/1000.
DEFAULT_MIN_CONFIDENCE_PM = 800

metadata = MetaData()

pairing_sections = Table(
    "pairing_sections",
    metadata,
    Column("section_id", String(32), primary_key=True),
    Column("entry_radar_id", String(32), nullable=False, index=True),
    Column("exit_radar_id", String(32), nullable=False, index=True),
)

pairing_passages = Table(
    "pairing_passages",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("radar_id", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    #: `Window.subject` of its retention window, and its plate's HMAC under that window's key (null:
    #: forgotten, or not pairable).
    Column("window", String(64), nullable=False),
    Column("plate_tag", String(64)),
    Column("passed_at_ms", BigInteger, nullable=False),
    Column("pairable", Boolean, nullable=False),
    #: The section it was paired in as an entry / as an exit (null: free).
    Column("entry_of", String(32)),
    Column("exit_of", String(32)),
    Column("infraction_id", String(36)),
    Index("ix_pairing_passages_plate", "radar_id", "window", "plate_tag", "passed_at_ms"),
)

#: Passages that could pair in more than one way, or a pair whose passage is already in an infraction.
section_ambiguities = Table(
    "section_ambiguities",
    metadata,
    Column("section_id", String(32), primary_key=True),
    #: The passage whose arrival revealed it.
    Column("event_id", String(36), primary_key=True),
    #: The plate, sealed under the revealing passage's window key (`PassageWindows.seal`): unreadable
    #: once that window closes, like the passages.
    Column("window", String(64), nullable=False),
    Column("plate_sealed", Text),
    #: "several_candidates"; "after_pairing" (it arrived once the pair was made: the decision stands);
    #: "already_in_infraction" (a passage of the pair is in another infraction: no second one);
    #: "radar_inactive" / "radar_not_verified" (over the limit, but a radar was not active / had no
    #: verification in force at its passage: dismissed).
    Column("reason", String(32), nullable=False),
    Column("passed_at_ms", BigInteger, nullable=False),
    #: Every passage involved (event ids), the revealing one included.
    Column("event_ids", JSON, nullable=False),
    Column("count", Integer, nullable=False),
)

_EVENTS = EventTypes([SectionCreated, PassageRecorded])


@dataclass(frozen=True)
class _Arrival:
    """A passage being applied, opened: its signed message and its retention window."""

    message: dict[str, Any]
    window: Window
    #: (window subject, plate tag) of every open window that may hold its partner.
    tags: list[tuple[str, str]]


@dataclass(frozen=True)
class _Passage:
    """What pairing needs to find a passage again (its stream) and to order it."""

    event_id: str
    radar_id: str
    seq: int
    passed_at_ms: int


class SectionPairingManager:
    name = "section-pairing"
    event_types = _EVENTS

    def __init__(
        self,
        store: EventStore,
        schedule: FineSchedule,
        clock: Clock,
        windows: PassageWindows,
        min_confidence_pm: int = DEFAULT_MIN_CONFIDENCE_PM,
        tables: Mapping[str, Table] | None = None,
    ) -> None:
        self._store = store
        self._windows = windows
        self._schedule = schedule
        self._clock = clock
        self._min_confidence_pm = min_confidence_pm
        self._tables = dict(tables or {table.name: table for table in metadata.sorted_tables})

    @property
    def tables(self) -> Sequence[Table]:
        return list(self._tables.values())

    def bind(self, tables: Mapping[str, Table]) -> SectionPairingManager:
        bound = {name: tables[name] for name in self._tables}
        return SectionPairingManager(
            self._store, self._schedule, self._clock, self._windows, self._min_confidence_pm, bound
        )

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        decoded = _EVENTS.decode(event.type, event.data)
        conn = tx.connection
        if isinstance(decoded, SectionCreated):
            conn.execute(
                self._tables["pairing_sections"].insert(),
                dict(
                    section_id=decoded.section_id,
                    entry_radar_id=decoded.entry_radar_id,
                    exit_radar_id=decoded.exit_radar_id,
                ),
            )
        elif isinstance(decoded, PassageRecorded):
            self._passage(tx, decoded)

    # -- a passage arrives ----------------------------------------------------------------------

    def _passage(self, tx: Transaction, recorded: PassageRecorded) -> None:
        conn = tx.connection
        window = Window.parse(recorded.window)
        opened = open_passage(self._windows, recorded)
        pairable = opened is not None and recorded.plate_confidence_pm >= self._min_confidence_pm
        plate = str(opened.message["plate"]) if opened is not None else ""
        conn.execute(
            self._tables["pairing_passages"].insert(),
            dict(
                event_id=recorded.event_id,
                radar_id=recorded.radar_id,
                seq=recorded.seq,
                window=recorded.window,
                plate_tag=self._windows.tag(window, plate) if pairable else None,
                passed_at_ms=recorded.passed_at_ms,
                pairable=pairable,
            ),
        )
        if opened is None or not pairable:
            return
        sections = self._tables["pairing_sections"]
        radar_id = recorded.radar_id
        for row in conn.execute(select(sections).where(sections.c.exit_radar_id == radar_id)).mappings().all():
            section = load_section(self._store, row["section_id"])
            if section is not None and (arrival := self._arrival(section, opened.message, window)) is not None:
                self._pair_exit(tx, section, arrival)
        for row in conn.execute(select(sections).where(sections.c.entry_radar_id == radar_id)).mappings().all():
            section = load_section(self._store, row["section_id"])
            if section is not None and (arrival := self._arrival(section, opened.message, window)) is not None:
                self._pair_entry(tx, section, arrival)

    def _arrival(self, section: SectionState, message: dict[str, Any], window: Window) -> _Arrival | None:
        """The passage with its plate's tag in every window that can hold its partner in `section`
        (within `max_travel_ms` either side); None when the earliest of them is closed: a forgotten
        passage could have been a candidate, so nothing is decided."""
        at_ms, travel = int(message["passed_at_ms"]), section.max_travel_ms
        if not self._windows.is_open(self._windows.window_of(at_ms - travel)):
            return None
        plate, reach = str(message["plate"]), Window(at_ms - travel, at_ms + travel + 1)
        tags = [
            (candidate.subject, tag)
            for candidate in self._windows.windows()
            if candidate.start_ms < reach.end_ms
            and reach.start_ms < candidate.end_ms
            and (tag := self._windows.tag(candidate, plate)) is not None
        ]
        return _Arrival(message, window, tags)

    def _pair_exit(self, tx: Transaction, section: SectionState, exit: _Arrival) -> None:
        conn, window = tx.connection, section.max_travel_ms
        at_ms = int(exit.message["passed_at_ms"])
        entries = self._candidates(conn, section.entry_radar_id, exit, "entry_of", at_ms - window, at_ms)
        if entries:
            first = entries[0].passed_at_ms
            exits = self._candidates(conn, section.exit_radar_id, exit, "exit_of", first + 1, first + window + 1)
            self._settle(tx, section, exit, entries, exits)
        else:
            paired = self._candidates(conn, section.entry_radar_id, exit, "entry_of", at_ms - window, at_ms, section)
            self._too_late(conn, section, exit, paired)

    def _pair_entry(self, tx: Transaction, section: SectionState, entry: _Arrival) -> None:
        conn, window = tx.connection, section.max_travel_ms
        at_ms = int(entry.message["passed_at_ms"])
        exits = self._candidates(conn, section.exit_radar_id, entry, "exit_of", at_ms + 1, at_ms + window + 1)
        if exits:
            first = exits[0].passed_at_ms
            entries = self._candidates(conn, section.entry_radar_id, entry, "entry_of", first - window, first)
            self._settle(tx, section, entry, entries, exits)
        else:
            paired = self._candidates(
                conn, section.exit_radar_id, entry, "exit_of", at_ms + 1, at_ms + window + 1, section
            )
            self._too_late(conn, section, entry, paired)

    def _too_late(self, conn: Connection, section: SectionState, arrived: _Arrival, paired: list[_Passage]) -> None:
        """A passage that would have made a pair already made ambiguous: listed, the decision stands."""
        if paired:
            self._ambiguous(conn, section, arrived, paired, "after_pairing")

    def _candidates(
        self,
        conn: Connection,
        radar_id: str,
        arrived: _Arrival,
        role: str,
        from_ms: int,
        until_ms: int,
        paired_in: SectionState | None = None,
    ) -> list[_Passage]:
        """Pairable passages at `radar_id` of the plate of `arrived` (from_ms <= t < until_ms), by time:
        those not yet paired in `role`, or with `paired_in` those already paired in that role in that section."""
        passages = self._tables["pairing_passages"]
        column = passages.c[role]
        free = column.is_(None) if paired_in is None else column == paired_in.section_id
        same_plate = or_(
            false(),
            *(and_(passages.c.window == window, passages.c.plate_tag == tag) for window, tag in arrived.tags),
        )
        return [
            _Passage(**row)
            for row in conn.execute(
                select(passages.c.event_id, passages.c.radar_id, passages.c.seq, passages.c.passed_at_ms)
                .where(
                    passages.c.radar_id == radar_id,
                    same_plate,
                    passages.c.pairable.is_(True),
                    free,
                    passages.c.passed_at_ms >= from_ms,
                    passages.c.passed_at_ms < until_ms,
                )
                .order_by(passages.c.passed_at_ms, passages.c.event_id)
            ).mappings()
        ]

    def _settle(
        self,
        tx: Transaction,
        section: SectionState,
        arrived: _Arrival,
        entries: list[_Passage],
        exits: list[_Passage],
    ) -> None:
        """Pair the one entry with the one exit, or list them all as ambiguous."""
        if len(entries) != 1 or len(exits) != 1:
            self._ambiguous(tx.connection, section, arrived, [*entries, *exits], "several_candidates")
            return
        entry, exit = entries[0], exits[0]
        entry_recorded, exit_recorded = self._recorded(entry), self._recorded(exit)
        if entry_recorded is None or exit_recorded is None:
            return  # its window closed while this ran: forgotten, it pairs with nothing
        (entry_message, _), (exit_message, exit_received_at_ms) = entry_recorded, exit_recorded
        passages = self._tables["pairing_passages"]
        conn = tx.connection
        conn.execute(passages.update().where(passages.c.event_id == entry.event_id).values(entry_of=section.section_id))
        conn.execute(passages.update().where(passages.c.event_id == exit.event_id).values(exit_of=section.section_id))
        decision = decide_pair(
            section,
            entry_message,
            exit_message,
            (load_radar(self._store, entry.radar_id), load_radar(self._store, exit.radar_id)),
            load_vehicle(self._store, str(exit_message["plate"])),
            self._schedule,
            self._clock(),
            exit_received_at_ms,
        )
        if decision is None:
            return
        used = conn.execute(
            select(passages.c.event_id).where(
                passages.c.event_id.in_([entry.event_id, exit.event_id]), passages.c.infraction_id.is_not(None)
            )
        ).first()
        if used is not None:
            self._ambiguous(conn, section, arrived, [entry, exit], "already_in_infraction")
            return
        if isinstance(decision, ViolationDismissed):
            self._ambiguous(conn, section, arrived, [entry, exit], decision.reason)
            stream_id = dismissal_stream(exit.event_id)
        else:
            conn.execute(
                passages.update()
                .where(passages.c.event_id.in_([entry.event_id, exit.event_id]))
                .values(infraction_id=decision.infraction_id)
            )
            stream_id = infraction_stream(decision.infraction_id)
        metadata = decision_metadata("section-pairing", exit.event_id)
        # Already decided (a replay, or a rebuild of this process manager): keep the first decision. Both
        # decisions have the exit's decision event id, which the store keeps unique: an infraction and a
        # dismissal can never both be recorded for one pair, whatever a corrected radar history says now.
        decided = to_new_event(decision, metadata, event_id=decision_event_id(exit.event_id))
        with contextlib.suppress(WrongExpectedVersion, DuplicateEvent):
            tx.append(stream_id, [decided], NO_STREAM)

    def _ambiguous(
        self, conn: Connection, section: SectionState, arrived: _Arrival, involved: list[_Passage], reason: str
    ) -> None:
        message = arrived.message
        event_id = str(message["event_id"])
        event_ids = sorted({passage.event_id for passage in involved} | {event_id})
        conn.execute(
            self._tables["section_ambiguities"].insert(),
            dict(
                section_id=section.section_id,
                event_id=event_id,
                window=arrived.window.subject,
                plate_sealed=self._windows.seal(arrived.window, str(message["plate"]).encode(), event_id),
                reason=reason,
                passed_at_ms=message["passed_at_ms"],
                event_ids=event_ids,
                count=len(event_ids),
            ),
        )

    def _recorded(self, passage: _Passage) -> tuple[dict[str, Any], int] | None:
        """(the signed passage, when central received it) as recorded (its stream's first event), None once
        forgotten."""
        (recorded, *_) = self._store.read_stream(violation_stream(passage.radar_id, passage.seq))
        event = PASSAGE_EVENTS.decode(recorded.type, recorded.data)
        assert isinstance(event, PassageRecorded)
        opened = open_passage(self._windows, event)
        return (opened.message, event.received_at_ms) if opened is not None else None
