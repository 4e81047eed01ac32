"""Section command handlers: sections (check both radars exist, load, decide with `domain`, append) and
the trusted feed of passages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speedledger.central.aggregates import command_metadata
from speedledger.central.errors import NotFound
from speedledger.central.eventstore.port import EventStore
from speedledger.central.infractions.handlers import record_signed_message
from speedledger.central.ingest.kinds import PASSAGE
from speedledger.central.messages import Clock, Command
from speedledger.central.radars.lookup import load_radar
from speedledger.central.sections import domain
from speedledger.central.sections.aggregate import SECTION
from speedledger.central.sections.commands import ChangeSectionLimit, CreateSection, RecordPassage
from speedledger.central.sections.passages import PassageRecorder
from speedledger.central.sections.retention import PassageWindows


def create_section(command: CreateSection, store: EventStore, clock: Clock) -> str:
    for radar_id in (command.entry_radar_id, command.exit_radar_id):
        if load_radar(store, radar_id) is None:
            raise NotFound(f"radar {radar_id} is not registered")
    SECTION.execute(store, command.section_id, command, lambda section: domain.create(command, section, clock()))
    return command.section_id


def change_section_limit(command: ChangeSectionLimit, store: EventStore, clock: Clock) -> None:
    SECTION.execute(store, command.section_id, command, lambda section: domain.change_limit(command, section, clock()))


def record_passage(command: RecordPassage, store: EventStore, clock: Clock, passages: PassageWindows) -> str:
    received_at_ms = clock() if command.received_at_ms is None else command.received_at_ms
    return record_signed_message(
        store, dict(command.message), PASSAGE, PassageRecorder(passages), received_at_ms, command_metadata(command)
    )


HANDLERS: dict[type[Command], Callable[..., Any]] = {
    CreateSection: create_section,
    ChangeSectionLimit: change_section_limit,
    RecordPassage: record_passage,
}
