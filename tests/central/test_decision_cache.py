"""The process manager keeps radars and vehicles between batches (`AggregateCache`): what changes in
their streams, and what their history says by time, is seen by the very next decision."""

from __future__ import annotations

from dataclasses import replace

from speedledger.central.aggregates import AggregateCache
from speedledger.central.bootstrap import Central
from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.infractions import queries
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.radars.aggregate import RADAR
from speedledger.central.radars.commands import RecordMetrology, UpdateRadar
from speedledger.central.radars.domain import RadarState
from speedledger.central.radars.metrology import DAY_MS
from speedledger.central.registration.commands import TransferOwnership
from tests.central.conftest import HOUR, T0, FakeClock, World
from tests.fixtures.metrology import VERIFIED

#: Verified a year before T0, lapsing one hour after it.
LAPSING = replace(VERIFIED, verified_at_ms=T0 - 365 * DAY_MS, valid_until_ms=T0 + HOUR)


def decision(central: Central, event_id: str) -> tuple[str, int | None, str | None]:
    """("issued" or "unidentified", limit, owner) of its infraction, or ("dismissed: reason", limit, None)."""
    with central.engine.connect() as conn:
        issued = queries.get_infraction(conn, infraction_id_for(event_id), central.cipher)
    if issued is not None:
        return issued.status, issued.speed_limit_kmh, issued.owner_id
    (dismissal,) = central.store.read_stream(f"dismissal-{event_id}")
    return f"dismissed: {dismissal.data['reason']}", dismissal.data["speed_limit_kmh"], None


def test_a_limit_change_is_seen_by_the_next_decision(central: Central, world: World, clock: FakeClock) -> None:
    radar = world.radar("R1", 90)
    first = radar.violation(detected_at_ms=T0 + 1, measured_speed_ckmh=9000)  # 85 km/h retained
    world.record(first)
    assert decision(central, first["event_id"]) == ("dismissed: not_over_limit", 90, None)
    clock.advance(HOUR)
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=70))
    second = radar.violation(detected_at_ms=T0 + HOUR, measured_speed_ckmh=9000)
    world.record(second)
    assert decision(central, second["event_id"]) == ("unidentified", 70, None)


def test_a_lapsed_then_renewed_verification_is_seen_by_the_next_decision(
    central: Central, world: World, clock: FakeClock
) -> None:
    radar = world.radar("R1", 90, metrology=(LAPSING,))
    before = radar.violation(detected_at_ms=T0, measured_speed_ckmh=12000)
    world.record(before)
    assert decision(central, before["event_id"]) == ("unidentified", 90, None)
    lapsed = radar.violation(detected_at_ms=T0 + HOUR, measured_speed_ckmh=12000)
    world.record(lapsed)
    assert decision(central, lapsed["event_id"]) == ("dismissed: radar_not_verified", 90, None)
    clock.advance(2 * HOUR)
    renewal = replace(
        LAPSING, approval_number="VP-2026", verified_at_ms=T0 + 2 * HOUR, valid_until_ms=T0 + 366 * DAY_MS
    )
    central.bus.handle(RecordMetrology(radar_id="R1", record=renewal))
    renewed = radar.violation(detected_at_ms=T0 + 2 * HOUR, measured_speed_ckmh=12000)
    world.record(renewed)
    assert decision(central, renewed["event_id"]) == ("unidentified", 90, None)


def test_a_new_owner_and_a_newly_registered_plate_are_seen_by_the_next_decision(
    central: Central, world: World, clock: FakeClock
) -> None:
    radar = world.radar("R1", 90)
    alice, bob = world.owner("Alice"), world.owner("Bob", "bob@example.fr")
    world.vehicle("GZ123QK", alice)
    unknown_then = radar.violation(detected_at_ms=T0, plate="AB123CD", measured_speed_ckmh=12000)
    alices = radar.violation(detected_at_ms=T0, plate="GZ123QK", measured_speed_ckmh=12000)
    world.record(unknown_then)
    world.record(alices)
    assert decision(central, unknown_then["event_id"])[::2] == ("unidentified", None)
    assert decision(central, alices["event_id"])[::2] == ("issued", alice)

    clock.advance(2 * HOUR)
    central.bus.handle(TransferOwnership(plate="GZ123QK", owner_id=bob, effective_at_ms=T0 + HOUR))
    world.vehicle("AB123CD", alice, registered_at_ms=T0 + HOUR)
    bobs = radar.violation(detected_at_ms=T0 + HOUR, plate="GZ123QK", measured_speed_ckmh=12000)
    known_now = radar.violation(detected_at_ms=T0 + HOUR, plate="AB123CD", measured_speed_ckmh=12000)
    world.record(bobs)
    world.record(known_now)
    assert decision(central, bobs["event_id"])[::2] == ("issued", bob)
    assert decision(central, known_now["event_id"])[::2] == ("issued", alice)


def test_the_cache_reads_only_what_a_stream_appended_and_keeps_at_most_its_size(central: Central, world: World) -> None:
    for radar_id in ("R1", "R2", "R3"):
        world.radar(radar_id, 90)
    reads: list[tuple[str, int]] = []
    store = central.store
    read_stream = store.read_stream

    def counted(stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        reads.append((stream_id, after_version))
        return read_stream(stream_id, after_version)

    store.read_stream = counted  # type: ignore[method-assign]
    try:
        cache: AggregateCache[RadarState] = AggregateCache(RADAR, store, size=2)
        lookup = cache.lookup(["R1", "R2", "NOPE"])
        assert [state.radar_id if state else None for state in map(lookup, ["R1", "R2", "NOPE"])] == ["R1", "R2", None]
        version = len(read_stream("radar-R1"))
        assert reads == [("radar-R1", 0), ("radar-R2", 0), ("radar-NOPE", 0)]  # R1 dropped: size 2

        central.bus.handle(UpdateRadar(radar_id="R2", speed_limit_kmh=50))
        reads.clear()
        lookup = cache.lookup(["R1", "R2", "NOPE"])
        states = {radar_id: lookup(radar_id) for radar_id in ("R2", "NOPE", "R1")}
        assert reads == [("radar-R2", version), ("radar-R1", 0)]  # R2 moved on; NOPE still has no stream
        assert states["R2"] is not None and states["R2"].speed_limit_kmh == 50
        assert states["R1"] is not None and states["NOPE"] is None
    finally:
        store.read_stream = read_stream  # type: ignore[method-assign]
