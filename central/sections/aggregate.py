"""The section aggregate: stream `section-{section_id}`, folded by `domain.evolve`."""

from __future__ import annotations

from speedledger.central.aggregates import Aggregate
from speedledger.central.sections import domain
from speedledger.central.sections.domain import SectionState
from speedledger.central.sections.events import SECTION_EVENTS, section_stream

SECTION: Aggregate[SectionState] = Aggregate(section_stream, SECTION_EVENTS, domain.evolve)
