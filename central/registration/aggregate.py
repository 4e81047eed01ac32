"""The registration aggregates: owners (`owner-{owner_id}`) and vehicles (`vehicle-{plate}`)."""

from __future__ import annotations

from speedledger.central.aggregates import Aggregate
from speedledger.central.registration import domain
from speedledger.central.registration.domain import OwnerState, VehicleState
from speedledger.central.registration.events import REGISTRATION_EVENTS, owner_stream, vehicle_stream

OWNER: Aggregate[OwnerState] = Aggregate(owner_stream, REGISTRATION_EVENTS, domain.evolve_owner)
VEHICLE: Aggregate[VehicleState] = Aggregate(vehicle_stream, REGISTRATION_EVENTS, domain.evolve_vehicle)
