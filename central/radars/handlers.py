"""Radar command handlers, and the strongly consistent radar lookup the ingest and process manager use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speedledger.central import aggregates
from speedledger.central.eventstore.port import EventStore
from speedledger.central.messages import Clock, Command, Event
from speedledger.central.radars import domain
from speedledger.central.radars.commands import RegisterRadar, RevokeRadarKey, RotateRadarKey, UpdateRadar
from speedledger.central.radars.domain import RadarState
from speedledger.central.radars.events import RADAR_EVENTS, RadarKeyAdded, radar_stream


def load_radar(store: EventStore, radar_id: str) -> RadarState | None:
    """The radar as of the last committed event (not a projection: no lag), or None when unknown.

    Gives its keys (raw public key, key_id, revoked or not), current limit and status, and the limit
    and status at any past instant (`speed_limit_at`, `status_at`).
    """
    state, _ = aggregates.load(store, radar_stream(radar_id), RADAR_EVENTS, domain.evolve)
    return state


def _execute(
    store: EventStore, radar_id: str, command: Command, decide: Callable[[RadarState | None], list[Event]]
) -> list[Event]:
    return aggregates.execute(store, radar_stream(radar_id), RADAR_EVENTS, domain.evolve, command, decide)


def register_radar(command: RegisterRadar, store: EventStore, clock: Clock) -> str:
    _execute(store, command.radar_id, command, lambda radar: domain.register(command, radar, clock()))
    return command.radar_id


def update_radar(command: UpdateRadar, store: EventStore, clock: Clock) -> None:
    _execute(store, command.radar_id, command, lambda radar: domain.update(command, radar, clock()))


def rotate_radar_key(command: RotateRadarKey, store: EventStore, clock: Clock) -> str:
    (added,) = _execute(store, command.radar_id, command, lambda radar: domain.rotate_key(command, radar, clock()))
    assert isinstance(added, RadarKeyAdded)
    return added.key_id


def revoke_radar_key(command: RevokeRadarKey, store: EventStore, clock: Clock) -> None:
    _execute(store, command.radar_id, command, lambda radar: domain.revoke_key(command, radar, clock()))


HANDLERS: dict[type[Command], Callable[..., Any]] = {
    RegisterRadar: register_radar,
    UpdateRadar: update_radar,
    RotateRadarKey: rotate_radar_key,
    RevokeRadarKey: revoke_radar_key,
}
