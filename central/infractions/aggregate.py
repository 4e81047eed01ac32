"""The infraction aggregate: stream `infraction-{infraction_id}` (issued, then its lifecycle)."""

from __future__ import annotations

from speedledger.central.aggregates import Aggregate
from speedledger.central.infractions import domain
from speedledger.central.infractions.domain import InfractionState
from speedledger.central.infractions.events import INFRACTION_EVENTS, infraction_stream

INFRACTION: Aggregate[InfractionState] = Aggregate(infraction_stream, INFRACTION_EVENTS, domain.evolve)
