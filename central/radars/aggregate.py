"""The radar aggregate: stream `radar-{radar_id}`, folded by `domain.evolve`."""

from __future__ import annotations

from speedledger.central.aggregates import Aggregate
from speedledger.central.radars import domain
from speedledger.central.radars.domain import RadarState
from speedledger.central.radars.events import RADAR_EVENTS, radar_stream

RADAR: Aggregate[RadarState] = Aggregate(radar_stream, RADAR_EVENTS, domain.evolve)
