"""Every read model rebuilt from position 0 holds exactly the rows it held live, one at a time or all from
one read of the log; the process manager's rebuild decides nothing twice (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import Table, inspect, select

from speedledger.central.bootstrap import Central
from speedledger.central.eventstore import NO_STREAM, AppendRequest
from speedledger.central.infractions import process_manager
from speedledger.central.infractions.commands import ContestInfraction, IdentifyInfraction, PayInfraction
from speedledger.central.infractions.domain import decide_violation, infraction_id_for
from speedledger.central.infractions.events import InfractionIssued, ViolationDismissed
from speedledger.central.infractions.process_manager import InfractionProcessManager
from speedledger.central.infractions.projection import infractions as infractions_table
from speedledger.central.infractions.violations import violation_recorded
from speedledger.central.projections.readmodel import TableProjection
from speedledger.central.radars.commands import RevokeRadarKey, RotateRadarKey, UpdateRadar
from speedledger.central.registration.commands import EraseOwner, TransferOwnership
from speedledger.central.sections.commands import ChangeSectionLimit, CreateSection, RecordPassage
from speedledger.central.sections.retention import Window
from tests.central.conftest import HOUR, T0, FakeClock, Radar, World, make_central


def _rows(central: Central, table: Table) -> list[tuple[Any, ...]]:
    with central.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(select(table)).mappings()]
    if "plate_sealed" in table.c:  # a rebuild seals the plate again, with a fresh nonce: compare what it opens to
        for row in rows:
            row["plate_sealed"] = central.passages.open(
                Window.parse(row["window"]), row["plate_sealed"], row["event_id"]
            )
    return sorted(tuple(row.values()) for row in rows)


def _populate(central: Central, clock: FakeClock) -> None:
    world = World(central, clock)
    radar = world.radar("R1", 90)
    exit_radar = world.radar("R2", 50)
    alice, bob, carol = world.owner("Alice"), world.owner("Bob", "bob@example.fr"), world.owner("Carol", "c@x.fr")
    world.vehicle("GZ123QK", alice)
    world.vehicle("AB123CD", carol)
    clock.advance(HOUR)
    central.bus.handle(TransferOwnership(plate="GZ123QK", owner_id=bob, effective_at_ms=T0 + HOUR))
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=70, name="renamed"))
    central.bus.handle(
        CreateSection(section_id="S1", entry_radar_id="R1", exit_radar_id="R2", distance_m=5000, speed_limit_kmh=70)
    )
    central.bus.handle(ChangeSectionLimit(section_id="S1", speed_limit_kmh=50))
    # A section from a radar never verified: its pair over the limit is dismissed (`section_dismissals`).
    unverified = world.radar("R3", 90, metrology=())
    central.bus.handle(
        CreateSection(section_id="S2", entry_radar_id="R3", exit_radar_id="R2", distance_m=5000, speed_limit_kmh=70)
    )
    for passage in (
        unverified.passage(passed_at_ms=T0 + 3 * HOUR),
        exit_radar.passage(passed_at_ms=T0 + 3 * HOUR + 120_000),  # 5 km in 2 min
    ):
        central.bus.handle(RecordPassage(message=passage))
    rotated = Radar("R1")
    central.bus.handle(RotateRadarKey(radar_id="R1", public_key=rotated.public_key))
    central.bus.handle(RevokeRadarKey(radar_id="R1", key_id=radar.key_id, reason="lost"))
    messages = [
        rotated.violation(detected_at_ms=T0 + 10, plate="GZ123QK"),
        rotated.violation(detected_at_ms=T0 + 2 * HOUR, plate="GZ123QK", measured_speed_ckmh=15000),
        rotated.violation(detected_at_ms=T0 + 2 * HOUR, plate="", measured_speed_ckmh=9000),
        rotated.violation(detected_at_ms=T0 + 2 * HOUR, plate="AB123CD", measured_speed_ckmh=7000),
    ]
    for message in messages:
        world.record(message)
    central.bus.handle(PayInfraction(infraction_id=infraction_id_for(messages[0]["event_id"])))
    central.bus.handle(ContestInfraction(infraction_id=infraction_id_for(messages[1]["event_id"]), reason="no"))
    central.bus.handle(IdentifyInfraction(infraction_id=infraction_id_for(messages[2]["event_id"]), plate="GZ123QK"))
    central.bus.handle(EraseOwner(owner_id=carol))


def test_rebuild_gives_identical_rows(database_url: str, clock: FakeClock) -> None:
    central = make_central(database_url, clock)
    try:
        _populate(central, clock)
        projections = [p for p in central.projections if isinstance(p, TableProjection)]
        assert {p.name for p in projections} >= {"radars", "sections", "registration", "infractions"}
        live = {table.name: _rows(central, table) for p in projections for table in p.tables}
        assert all(live.values()), {name: len(rows) for name, rows in live.items()}
        head = central.store.last_position()
        for projection in central.projections:
            assert central.runner.rebuild(projection.name).position == head
        rebuilt = {table.name: _rows(central, table) for p in projections for table in p.tables}
        assert rebuilt == live
        assert central.store.last_position() == head  # the process manager decided nothing twice
    finally:
        central.close()


def _indexes(central: Central, tables: list[Table]) -> dict[str, list[tuple[str, tuple[str, ...], bool]]]:
    with central.engine.connect() as conn:
        inspector = inspect(conn)
        return {
            table.name: sorted(
                (str(index["name"]), tuple(str(c) for c in index["column_names"]), bool(index["unique"]))
                for index in inspector.get_indexes(table.name)
            )
            for table in tables
        }


def test_rebuilding_every_projection_from_one_read_gives_identical_rows_and_indexes(
    database_url: str, clock: FakeClock
) -> None:
    central = make_central(database_url, clock)
    try:
        _populate(central, clock)
        tables = [table for p in central.projections for table in p.tables]
        live = {table.name: _rows(central, table) for table in tables}
        indexes = _indexes(central, tables)
        assert any(indexes.values())  # secondary indexes, built after the replay, under their own names
        head = central.store.last_position()

        rebuilt = central.runner.rebuild()

        assert rebuilt.position == head and rebuilt.events <= head
        assert list(rebuilt.applying_s) == [p.name for p in central.projections]
        assert {table.name: _rows(central, table) for table in tables} == live
        assert _indexes(central, tables) == indexes
        with central.engine.connect() as conn:
            assert not [name for name in inspect(conn).get_table_names() if "__rb_" in name]
        assert central.store.last_position() == head
        assert {status.name: status.position for status in central.runner.status()} == dict.fromkeys(
            [p.name for p in central.projections], head
        )
    finally:
        central.close()


def _decisions(central: Central) -> list[str]:
    """The violation event id every decision in the log answers, in log order."""
    decided = {InfractionIssued.type_name, ViolationDismissed.type_name}
    return [str(e.data["event_id"]) for e in central.store.read_all(0, 1_000_000) if e.type in decided]


def test_the_process_manager_rebuild_decides_only_what_no_decision_in_the_log_answers(
    database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its state is rebuilt from the log: nothing already decided is decided (nor appended) again; the
    violations it had not reached get their one decision, as the live process manager would give."""
    central = make_central(database_url, clock)
    try:
        world = World(central, clock)
        radar = world.radar("R1", 90)
        world.vehicle("GZ123QK", world.owner())
        clock.advance(HOUR)
        recorded = [radar.violation(detected_at_ms=T0 + n, measured_speed_ckmh=9000 + 500 * n) for n in range(4)]
        for message in recorded:  # decided live: two dismissed (under the limit), two infractions
            world.record(message)
        decided = [message["event_id"] for message in recorded]
        assert sorted(_decisions(central)) == sorted(decided)
        late = [radar.violation(detected_at_ms=T0 + 10 + n) for n in range(2)]  # appended, not yet decided
        appends = [violation_recorded(message, clock()) for message in late]
        central.store.append_batch([AppendRequest(stream_id, [event], NO_STREAM) for stream_id, event in appends])
        head = central.store.last_position()
        deciding: list[str] = []

        def decide(message: Mapping[str, Any], *args: Any) -> Any:
            deciding.append(str(message["event_id"]))
            return decide_violation(message, *args)

        monkeypatch.setattr(process_manager, "decide_violation", decide)
        rebuilt = central.runner.rebuild(InfractionProcessManager.name)

        assert deciding == [m["event_id"] for m in late]  # the decided ones are not decided again
        assert rebuilt.position == head
        new = central.store.read_all(head)
        assert [str(e.data["event_id"]) for e in new] == [m["event_id"] for m in late]
        assert [e.metadata["causation_id"] for e in new] == [m["event_id"] for m in late]
        assert sorted(_decisions(central)) == sorted([*decided, *(m["event_id"] for m in late)])
        after = central.store.last_position()
        central.runner.rebuild(InfractionProcessManager.name)
        assert central.store.last_position() == after and len(deciding) == len(late)  # nothing left to decide
    finally:
        central.close()


def test_a_road_log_rebuilt_in_large_batches_gives_the_rows_applied_live(database_url: str, clock: FakeClock) -> None:
    """Live, each violation is projected a round before its decision and each decision before its payment;
    a rebuild takes thousands of events per batch, where `Writes` makes a row and its later update by key
    one row, and every projection shares one decoding of each event. The rows must not tell the two apart."""
    central = make_central(database_url, clock)
    try:
        world = World(central, clock)
        radars = [world.radar(f"R{n}", 90) for n in range(3)]
        plates = [f"GZ{n:03d}QK" for n in range(5)]
        for plate in plates:
            world.vehicle(plate, world.owner(f"Owner {plate}", f"{plate.lower()}@example.fr"))
        clock.advance(HOUR)
        paid = contested = 0
        for batch in range(8):  # as the ingest appends them, and the process manager decides them after
            messages = [
                radars[n % 3].violation(
                    detected_at_ms=T0 + 1000 * (30 * batch + n),
                    plate=plates[n % 5] if n % 4 else "",  # unidentified: no plate read
                    measured_speed_ckmh=8500 if n % 7 == 0 else 9600 + 100 * n,  # dismissed: under the limit
                )
                for n in range(30)
            ]
            appends = [violation_recorded(message, clock()) for message in messages]
            central.store.append_batch([AppendRequest(stream, [event], NO_STREAM) for stream, event in appends])
            central.runner.catch_up()
            for n in (1, 2, 3, 5):  # lifecycle events right after the decision
                infraction_id = infraction_id_for(messages[n]["event_id"])
                if n % 2:
                    central.bus.handle(PayInfraction(infraction_id=infraction_id))
                    paid += 1
                else:
                    central.bus.handle(ContestInfraction(infraction_id=infraction_id, reason="not me"))
                    contested += 1
            unidentified = infraction_id_for(messages[4]["event_id"])
            central.bus.handle(IdentifyInfraction(infraction_id=unidentified, plate=plates[0]))
        tables = [table for p in central.projections for table in p.tables]
        live = {table.name: _rows(central, table) for table in tables}
        assert len(live["violations"]) == 240 and len(live["infractions"]) > 150
        status = list(infractions_table.c.keys()).index("status")
        statuses = [row[status] for row in live["infractions"]]
        assert statuses.count("paid") == paid and statuses.count("contested") == contested
        head = central.store.last_position()

        rebuilt = central.runner.rebuild()

        assert rebuilt.events > 500 and head <= central.runner.rebuild_batch_size  # all of it in one batch
        assert {table.name: _rows(central, table) for table in tables} == live
        assert central.store.last_position() == head
    finally:
        central.close()
