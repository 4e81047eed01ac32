"""Violations to infractions (the process manager) and the infraction lifecycle, through the bus."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, select

from speedledger.central.bootstrap import Central
from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.infractions import queries
from speedledger.central.infractions.commands import (
    CancelInfraction,
    ContestInfraction,
    IdentifyInfraction,
    PayInfraction,
    RecordViolation,
    UpholdInfraction,
)
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.infractions.projection import violations
from speedledger.central.projections import checkpoints
from speedledger.central.radars.commands import RevokeRadarKey, RotateRadarKey, UpdateRadar
from speedledger.central.registration.commands import EraseOwner, TransferOwnership
from speedledger.central.registration.personal_data import PersonalDataCipher
from tests.central.conftest import HOUR, T0, FakeClock, Radar, World, sign
from tests.fixtures.postgres import sqlite_only


def _infraction(conn: Connection, event_id: str, cipher: PersonalDataCipher) -> queries.InfractionDetail:
    detail = queries.get_infraction(conn, infraction_id_for(event_id), cipher)
    assert detail is not None
    return detail


def test_issued_to_the_owner_at_detection_time(central: Central, world: World, clock: FakeClock) -> None:
    radar = world.radar("FR-A6-012", 90)
    alice, bob = world.owner("Alice"), world.owner("Bob", "bob@example.fr")
    world.vehicle("GZ123QK", alice)
    clock.advance(2 * HOUR)
    central.bus.handle(TransferOwnership(plate="GZ123QK", owner_id=bob, effective_at_ms=T0 + HOUR))
    before, after = radar.violation(detected_at_ms=T0 + HOUR - 1), radar.violation(detected_at_ms=T0 + HOUR)
    assert world.record(before) == "accepted"
    assert world.record(after) == "accepted"

    with central.engine.connect() as conn:
        first, second = (
            _infraction(conn, before["event_id"], central.cipher),
            _infraction(conn, after["event_id"], central.cipher),
        )
    assert (first.owner_id, first.owner_name, second.owner_id, second.owner_name) == (alice, "Alice", bob, "Bob")
    assert first.status == "issued" and first.unidentified_reason is None
    assert (first.measured_speed_kmh, first.retained_speed_kmh, first.speed_limit_kmh, first.excess_kmh) == (
        104.32,
        99,
        90,
        9,
    )
    assert (first.fine_eur, first.points, first.fine_schedule) == (68, 1, "fr-2024")
    assert first.device_message == before  # the signed original, sig included
    assert first.event_id == before["event_id"] and first.seq == before["seq"]
    assert [(change.status, change.actor) for change in first.history] == [("issued", "process-manager")]


@sqlite_only
@pytest.mark.parametrize(
    ("plate", "registered", "reason"),
    [("", False, "plate_unread"), ("XX999XX", False, "plate_unknown"), ("GZ123QK", True, "no_owner_at_detection")],
)
def test_unidentified_never_guesses(central: Central, world: World, plate: str, registered: bool, reason: str) -> None:
    radar = world.radar()
    if registered:  # registered only after the detection
        world.vehicle("GZ123QK", world.owner(), registered_at_ms=T0 + 1)
    message = radar.violation(plate=plate, detected_at_ms=T0)
    world.record(message)
    with central.engine.connect() as conn:
        infraction = _infraction(conn, message["event_id"], central.cipher)
        page = queries.list_infractions(conn, status="unidentified")
    assert (infraction.status, infraction.unidentified_reason, infraction.owner_id) == ("unidentified", reason, None)
    assert infraction.owner_name is None
    assert [item.infraction_id for item in page.items] == [infraction.infraction_id]


def test_central_limit_governs_and_mismatch_is_recorded(central: Central, world: World) -> None:
    radar = world.radar("R1", 50)
    world.vehicle("GZ123QK", world.owner())
    # The device believes the limit is 90: 76 km/h measured is no offence for it, 21 over for central.
    governed = radar.violation(speed_limit_kmh=90, measured_speed_ckmh=7600)
    # And the other way round: the device's 50 would make 71 km/h an offence, central's 90 does not.
    other = world.radar("R2", 90)
    dismissed = other.violation(speed_limit_kmh=50, measured_speed_ckmh=7600)
    world.record(governed)
    world.record(dismissed)
    with central.engine.connect() as conn:
        infraction = _infraction(conn, governed["event_id"], central.cipher)
        outcome = conn.execute(
            select(violations.c.outcome, violations.c.dismissal_reason).where(
                violations.c.event_id == dismissed["event_id"]
            )
        ).one()
        assert queries.get_infraction(conn, infraction_id_for(dismissed["event_id"]), central.cipher) is None
    assert (infraction.speed_limit_kmh, infraction.device_speed_limit_kmh, infraction.limit_mismatch) == (50, 90, True)
    assert (infraction.retained_speed_kmh, infraction.excess_kmh, infraction.fine_eur, infraction.points) == (
        71,
        21,
        135,
        2,
    )
    assert tuple(outcome) == ("dismissed", "not_over_limit")
    (decision,) = central.store.read_stream(f"dismissal-{dismissed['event_id']}")
    assert decision.type == "ViolationDismissed"
    assert (decision.data["speed_limit_kmh"], decision.data["device_speed_limit_kmh"]) == (90, 50)


def test_a_later_limit_change_does_not_alter_older_decisions(central: Central, world: World, clock: FakeClock) -> None:
    radar = world.radar("R1", 90)
    world.vehicle("GZ123QK", world.owner())
    clock.advance(HOUR)
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=70))
    # Detected under the old limit, received (after days offline) under the new one.
    old = radar.violation(detected_at_ms=T0 + HOUR - 1, measured_speed_ckmh=9000)  # 85 retained
    new = radar.violation(detected_at_ms=T0 + HOUR, measured_speed_ckmh=9000)
    world.record(old)
    world.record(new)
    with central.engine.connect() as conn:
        assert queries.get_infraction(conn, infraction_id_for(old["event_id"]), central.cipher) is None
        issued = _infraction(conn, new["event_id"], central.cipher)
    assert (issued.speed_limit_kmh, issued.excess_kmh, issued.fine_eur) == (70, 15, 68)
    (decision,) = central.store.read_stream(f"dismissal-{old['event_id']}")
    assert (decision.data["reason"], decision.data["speed_limit_kmh"]) == ("not_over_limit", 90)


@sqlite_only
def test_inactive_radar_gives_no_infraction(central: Central, world: World, clock: FakeClock) -> None:
    radar = world.radar("R1", 90)
    clock.advance(HOUR)
    central.bus.handle(UpdateRadar(radar_id="R1", status="inactive"))
    message = radar.violation(detected_at_ms=T0 + HOUR, measured_speed_ckmh=20000)
    world.record(message)
    (decision,) = central.store.read_stream(f"dismissal-{message['event_id']}")
    assert decision.data["reason"] == "radar_inactive"


def test_record_violation_duplicates_and_seq_reuse(central: Central, world: World) -> None:
    radar = world.radar()
    message = radar.violation()
    assert world.record(message) == "accepted"
    assert world.record(message) == "duplicate"
    reused_seq = sign({**message, "event_id": "0193f1a2-7c4e-7d2a-9b1c-5e6f7a8b9c0d"}, radar.private_key)
    with pytest.raises(Conflict, match="seq"):
        world.record(reused_seq)
    reused_id = sign({**message, "seq": 99}, radar.private_key)
    with pytest.raises(Conflict, match="event_id"):
        world.record(reused_id)
    # radar and its verification, violation, infraction: nothing else recorded
    assert len(central.store.read_all()) == 4


@sqlite_only
def test_record_violation_refuses_unverifiable_messages(central: Central, world: World) -> None:
    radar = world.radar()
    with pytest.raises(Invalid, match="bad_signature"):
        world.record({**radar.violation(), "measured_speed_ckmh": 20000})  # altered after signing
    with pytest.raises(Invalid, match="unknown_key"):
        world.record(Radar("FR-A6-012").violation())
    with pytest.raises(NotFound, match="radar R9"):
        world.record(Radar("R9").violation())
    with pytest.raises(Invalid, match="malformed violation: plate"):
        world.record(radar.violation(plate="ab-12"))
    new = Radar("FR-A6-012")
    central.bus.handle(RotateRadarKey(radar_id="FR-A6-012", public_key=new.public_key))
    central.bus.handle(RevokeRadarKey(radar_id="FR-A6-012", key_id=radar.key_id))
    with pytest.raises(Invalid, match="revoked_key"):
        world.record(radar.violation())
    assert world.record(new.violation(seq=50)) == "accepted"


def test_process_manager_is_idempotent(central: Central, world: World) -> None:
    radar = world.radar()
    world.vehicle("GZ123QK", world.owner())
    messages = [radar.violation(measured_speed_ckmh=speed) for speed in (10432, 9400, 14500)]
    for message in messages:
        world.record(message)
    head = central.store.last_position()
    with central.engine.begin() as conn:  # as if the process manager had crashed before its checkpoint
        checkpoints.store(conn, "infraction-process-manager", 0)
    central.runner.catch_up()
    central.runner.rebuild("infraction-process-manager")
    assert central.store.last_position() == head  # no decision appended twice
    with central.engine.connect() as conn:
        page = queries.list_infractions(conn)
    assert sorted(item.event_id for item in page.items) == sorted([messages[0]["event_id"], messages[2]["event_id"]])


def test_lifecycle(central: Central, world: World) -> None:
    radar = world.radar()
    world.vehicle("GZ123QK", world.owner())
    ids = []
    for _ in range(4):
        message = radar.violation()
        world.record(message)
        ids.append(infraction_id_for(message["event_id"]))
    paid, contested_cancelled, upheld_paid, cancelled = ids
    bus = central.bus
    bus.handle(PayInfraction(infraction_id=paid, reference="TX-1", actor="agency-7"))
    bus.handle(ContestInfraction(infraction_id=contested_cancelled, reason="not my car"))
    bus.handle(CancelInfraction(infraction_id=contested_cancelled, reason="contest accepted"))
    bus.handle(ContestInfraction(infraction_id=upheld_paid, reason="radar wrong"))
    bus.handle(UpholdInfraction(infraction_id=upheld_paid, reason="calibration checked"))
    bus.handle(PayInfraction(infraction_id=upheld_paid))
    bus.handle(CancelInfraction(infraction_id=cancelled, reason="duplicate"))

    refused = [
        PayInfraction(infraction_id=paid),
        ContestInfraction(infraction_id=paid),
        CancelInfraction(infraction_id=paid),
        PayInfraction(infraction_id=cancelled),
        ContestInfraction(infraction_id=cancelled),
        UpholdInfraction(infraction_id=paid),
    ]
    for command in refused:
        with pytest.raises(Conflict):
            bus.handle(command)
    with pytest.raises(NotFound):
        bus.handle(PayInfraction(infraction_id="00000000-0000-0000-0000-000000000000"))

    with central.engine.connect() as conn:
        statuses = {infraction_id: _status(conn, infraction_id, central.cipher) for infraction_id in ids}
        history = queries.get_infraction(conn, upheld_paid, central.cipher)
        first = queries.get_infraction(conn, paid, central.cipher)
    assert statuses == {paid: "paid", contested_cancelled: "cancelled", upheld_paid: "paid", cancelled: "cancelled"}
    assert history is not None
    assert [(change.status, change.reason) for change in history.history] == [
        ("issued", ""),
        ("contested", "radar wrong"),
        ("issued", "calibration checked"),
        ("paid", ""),
    ]
    assert first is not None and (first.history[-1].actor, first.history[-1].reason) == ("agency-7", "TX-1")


def _status(conn: Connection, infraction_id: str, cipher: PersonalDataCipher) -> str:
    detail = queries.get_infraction(conn, infraction_id, cipher)
    assert detail is not None
    return detail.status


@sqlite_only
def test_unidentified_can_only_be_cancelled(central: Central, world: World) -> None:
    radar = world.radar()
    message = radar.violation(plate="")
    world.record(message)
    infraction_id = infraction_id_for(message["event_id"])
    for command in (PayInfraction(infraction_id=infraction_id), ContestInfraction(infraction_id=infraction_id)):
        with pytest.raises(Conflict, match="unidentified"):
            central.bus.handle(command)
    central.bus.handle(CancelInfraction(infraction_id=infraction_id, reason="plate unreadable on the image"))
    with central.engine.connect() as conn:
        assert _status(conn, infraction_id, central.cipher) == "cancelled"


def test_erased_owner_keeps_infractions_without_personal_data(central: Central, world: World) -> None:
    radar = world.radar()
    alice = world.owner("Alice")
    world.vehicle("GZ123QK", alice)
    message = radar.violation()
    world.record(message)
    central.bus.handle(EraseOwner(owner_id=alice))
    with central.engine.connect() as conn:
        infraction = _infraction(conn, message["event_id"], central.cipher)
        page = queries.list_infractions(conn, owner_id=alice)
    assert (infraction.owner_id, infraction.owner_name, infraction.owner_erased) == (alice, None, True)
    assert (infraction.status, infraction.fine_eur) == ("issued", 68)
    assert [item.infraction_id for item in page.items] == [infraction.infraction_id]


def test_list_filters_and_pagination(central: Central, world: World) -> None:
    radar, other = world.radar("R1"), world.radar("R2")
    world.vehicle("GZ123QK", world.owner())
    expected = []
    for index in range(7):
        source = radar if index % 2 == 0 else other
        message = source.violation(detected_at_ms=T0 + (index // 2) * 1000)  # equal times: tie on infraction_id
        world.record(message)
        expected.append(infraction_id_for(message["event_id"]))

    def all_pages(**filters: object) -> list[str]:
        seen: list[str] = []
        cursor = None
        with central.engine.connect() as conn:
            while True:
                page = queries.list_infractions(conn, limit=2, cursor=cursor, **filters)  # type: ignore[arg-type]
                seen += [item.infraction_id for item in page.items]
                if page.next_cursor is None:
                    return seen
                cursor = page.next_cursor

    everything = all_pages()
    assert sorted(everything) == sorted(expected) and len(set(everything)) == 7
    with central.engine.connect() as conn:
        ordered = [(i.detected_at_ms, i.infraction_id) for i in queries.list_infractions(conn, limit=500).items]
    assert ordered == sorted(ordered, reverse=True)
    assert [i for i in everything if i in expected[0::2]] == all_pages(radar_id="R1")
    assert len(all_pages(from_ms=T0 + 1000, to_ms=T0 + 3000)) == 4
    assert len(all_pages(plate="gz-123-qk")) == 7
    assert all_pages(status="paid") == []
    with central.engine.connect() as conn, pytest.raises(Invalid, match="cursor"):
        queries.list_infractions(conn, cursor="%%%")
    with central.engine.connect() as conn, pytest.raises(Invalid, match="limit"):
        queries.list_infractions(conn, limit=0)


@sqlite_only
def test_record_violation_received_at_and_actor(central: Central, world: World, clock: FakeClock) -> None:
    radar = world.radar()
    message = radar.violation()
    central.bus.handle(RecordViolation(message=message, received_at_ms=T0 + 5, actor="seed"))
    (recorded,) = central.store.read_stream(f"violation-{radar.radar_id}-{message['seq']}")
    assert recorded.event_id == message["event_id"]
    assert (recorded.data["received_at_ms"], recorded.data["key_id"]) == (T0 + 5, radar.key_id)
    assert recorded.metadata["actor"] == "seed"


def test_identify_an_unidentified_infraction(central: Central, world: World, clock: FakeClock) -> None:
    radar = world.radar()
    alice, bob = world.owner("Alice"), world.owner("Bob", "bob@example.fr")
    world.vehicle("GZ123QK", alice, registered_at_ms=T0 - HOUR)
    world.vehicle("AB123CD", bob, registered_at_ms=T0 + 1)  # registered after the detection
    unread = radar.violation(plate="", detected_at_ms=T0)
    world.record(unread)
    infraction_id = infraction_id_for(unread["event_id"])
    clock.advance(HOUR)
    with pytest.raises(NotFound, match="ZZ999ZZ"):
        central.bus.handle(IdentifyInfraction(infraction_id=infraction_id, plate="ZZ-999-ZZ"))
    with pytest.raises(Conflict, match="nobody owned AB123CD"):
        central.bus.handle(IdentifyInfraction(infraction_id=infraction_id, plate="AB123CD"))
    with pytest.raises(Invalid, match="plate"):
        central.bus.handle(IdentifyInfraction(infraction_id=infraction_id, plate="--"))
    owner = central.bus.handle(IdentifyInfraction(infraction_id=infraction_id, plate="gz-123-qk", actor="agent-3"))
    assert owner == alice
    with central.engine.connect() as conn:
        identified = _infraction(conn, unread["event_id"], central.cipher)
    assert (identified.status, identified.plate, identified.owner_id, identified.unidentified_reason) == (
        "issued",
        "GZ123QK",
        alice,
        None,
    )
    assert identified.device_message["plate"] == ""  # the radar's own read stays as signed
    assert [(c.status, c.reason, c.actor) for c in identified.history] == [
        ("unidentified", "plate_unread", "process-manager"),
        ("issued", "plate read as GZ123QK", "agent-3"),
    ]
    with pytest.raises(Conflict, match="is issued"):
        central.bus.handle(IdentifyInfraction(infraction_id=infraction_id, plate="GZ123QK"))
    central.bus.handle(PayInfraction(infraction_id=infraction_id))


def test_concurrent_transitions_exactly_one_wins(central: Central, world: World) -> None:
    radar = world.radar()
    world.vehicle("GZ123QK", world.owner())
    message = radar.violation()
    world.record(message)
    infraction_id = infraction_id_for(message["event_id"])
    commands = [PayInfraction(infraction_id=infraction_id), CancelInfraction(infraction_id=infraction_id)] * 3
    outcomes: list[str] = []
    barrier = threading.Barrier(len(commands))

    def race(command: PayInfraction | CancelInfraction) -> None:
        barrier.wait()
        try:
            central.bus.handle(command)
            outcomes.append(type(command).__name__)
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=race, args=(command,)) for command in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("conflict") == len(commands) - 1
    issued, winner = central.store.read_stream(f"infraction-{infraction_id}")
    assert issued.type == "InfractionIssued"
    expected = {"InfractionPaid": "paid", "InfractionCancelled": "cancelled"}[winner.type]
    with central.engine.connect() as conn:
        assert _status(conn, infraction_id, central.cipher) == expected
