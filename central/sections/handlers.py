"""Section command handlers: check both radars exist, load the section, decide (`domain`), append."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speedledger.central.errors import NotFound
from speedledger.central.eventstore.port import EventStore
from speedledger.central.messages import Clock, Command
from speedledger.central.radars.lookup import load_radar
from speedledger.central.sections import domain
from speedledger.central.sections.aggregate import SECTION
from speedledger.central.sections.commands import ChangeSectionLimit, CreateSection


def create_section(command: CreateSection, store: EventStore, clock: Clock) -> str:
    for radar_id in (command.entry_radar_id, command.exit_radar_id):
        if load_radar(store, radar_id) is None:
            raise NotFound(f"radar {radar_id} is not registered")
    SECTION.execute(store, command.section_id, command, lambda section: domain.create(command, section, clock()))
    return command.section_id


def change_section_limit(command: ChangeSectionLimit, store: EventStore, clock: Clock) -> None:
    SECTION.execute(store, command.section_id, command, lambda section: domain.change_limit(command, section, clock()))


HANDLERS: dict[type[Command], Callable[..., Any]] = {
    CreateSection: create_section,
    ChangeSectionLimit: change_section_limit,
}
