"""Radar command handlers: load the radar, decide (`domain`), append."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speedledger.central.eventstore.port import EventStore
from speedledger.central.messages import Clock, Command
from speedledger.central.radars import domain
from speedledger.central.radars.aggregate import RADAR
from speedledger.central.radars.commands import (
    RecordMetrology,
    RegisterRadar,
    RevokeRadarKey,
    RotateRadarKey,
    UpdateRadar,
)
from speedledger.central.radars.events import RadarKeyAdded


def register_radar(command: RegisterRadar, store: EventStore, clock: Clock) -> str:
    RADAR.execute(store, command.radar_id, command, lambda radar: domain.register(command, radar, clock()))
    return command.radar_id


def update_radar(command: UpdateRadar, store: EventStore, clock: Clock) -> None:
    RADAR.execute(store, command.radar_id, command, lambda radar: domain.update(command, radar, clock()))


def rotate_radar_key(command: RotateRadarKey, store: EventStore, clock: Clock) -> str:
    (added,) = RADAR.execute(store, command.radar_id, command, lambda radar: domain.rotate_key(command, radar, clock()))
    assert isinstance(added, RadarKeyAdded)
    return added.key_id


def revoke_radar_key(command: RevokeRadarKey, store: EventStore, clock: Clock) -> None:
    RADAR.execute(store, command.radar_id, command, lambda radar: domain.revoke_key(command, radar, clock()))


def record_metrology(command: RecordMetrology, store: EventStore, clock: Clock) -> None:
    RADAR.execute(store, command.radar_id, command, lambda radar: domain.record_metrology(command, radar, clock()))


HANDLERS: dict[type[Command], Callable[..., Any]] = {
    RegisterRadar: register_radar,
    UpdateRadar: update_radar,
    RotateRadarKey: rotate_radar_key,
    RevokeRadarKey: revoke_radar_key,
    RecordMetrology: record_metrology,
}
