"""Vehicles: registration, reading (with ownership history) and transfer of ownership."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep, PrincipalDep
from speedledger.central.entrypoints.api.schemas import (
    NAME_PATTERN,
    PLATE_PATTERN,
    STRICT_BODY,
    TEXT_PATTERN,
    Millis,
    WholeNumber,
)
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.errors import NotFound
from speedledger.central.registration.commands import RegisterVehicle, TransferOwnership
from speedledger.central.registration.domain import MAX_FISCAL_POWER
from speedledger.central.registration.queries import VehicleView, get_vehicle

router = APIRouter(prefix="/api/v1/vehicles", tags=["vehicles"], route_class=GuardedRoute)

Plate = Annotated[
    str,
    Path(
        min_length=1,
        max_length=32,
        pattern=PLATE_PATTERN,
        description="Normalised on lookup: `ab-123-cd` is `AB123CD`.",
    ),
]
OwnerRef = Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT_PATTERN)]


class VehicleCreate(BaseModel):
    model_config = STRICT_BODY

    plate: Annotated[
        str, Field(min_length=1, max_length=32, pattern=PLATE_PATTERN, description="Normalised (CONTRACT §3).")
    ]
    brand: Annotated[str, Field(min_length=1, max_length=100, pattern=NAME_PATTERN)]
    model: Annotated[str, Field(min_length=1, max_length=100, pattern=NAME_PATTERN)]
    fiscal_power: Annotated[int, Field(ge=1, le=MAX_FISCAL_POWER), WholeNumber]
    owner_id: OwnerRef
    #: Optional (an addition to CONTRACT §5): when the first ownership began, for registers migrated
    #: with their history and for the traffic simulator; default now.
    registered_at_ms: Annotated[
        Millis | None, Field(description="Start of the first ownership (Unix ms); default: now.")
    ] = None
    foreign: Annotated[bool, Field(description="A foreign plate: skip the French SIV format check (AA-123-AA).")] = (
        False
    )


class Transfer(BaseModel):
    model_config = STRICT_BODY

    owner_id: OwnerRef
    effective_at_ms: Millis


def _vehicle(central: CentralDep, plate: str) -> VehicleView:
    with central.engine.connect() as conn:
        vehicle = get_vehicle(conn, plate)
    if vehicle is None:
        raise NotFound(f"vehicle {plate!r} not found")
    return vehicle


@router.post(
    "",
    status_code=201,
    response_model=VehicleView,
    responses={404: {"description": "No such owner."}},
    **requires(Permission.VEHICLES_WRITE),
)
def register_vehicle(
    body: VehicleCreate, central: CentralDep, principal: PrincipalDep, response: Response
) -> VehicleView:
    plate = central.bus.handle(RegisterVehicle(**body.model_dump(), actor=principal.subject))
    response.headers["Location"] = f"{router.prefix}/{plate}"
    return _vehicle(central, plate)


@router.get("/{plate}", response_model=VehicleView, **requires(Permission.VEHICLES_READ))
def read_vehicle(plate: Plate, central: CentralDep) -> VehicleView:
    return _vehicle(central, plate)


@router.post("/{plate}/transfer", response_model=VehicleView, **requires(Permission.VEHICLES_WRITE))
def transfer_vehicle(plate: Plate, body: Transfer, central: CentralDep, principal: PrincipalDep) -> VehicleView:
    """The vehicle belongs to `owner_id` from `effective_at_ms` on; earlier infractions stay with the previous owner."""
    central.bus.handle(
        TransferOwnership(
            plate=plate, owner_id=body.owner_id, effective_at_ms=body.effective_at_ms, actor=principal.subject
        )
    )
    return _vehicle(central, plate)
