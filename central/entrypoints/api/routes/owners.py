"""Owners: registration, reading (with the vehicles they hold) and erasure of their personal data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep, PrincipalDep
from speedledger.central.entrypoints.api.schemas import (
    DATE_PATTERN,
    EMAIL_PATTERN,
    NAME_PATTERN,
    STRICT_BODY,
    TEXT_PATTERN,
)
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.errors import NotFound
from speedledger.central.registration.commands import EraseOwner, RegisterOwner
from speedledger.central.registration.queries import OwnerView, get_owner

router = APIRouter(prefix="/api/v1/owners", tags=["owners"], route_class=GuardedRoute)

OwnerId = Annotated[str, Path(min_length=1, max_length=64, pattern=TEXT_PATTERN)]


class OwnerCreate(BaseModel):
    model_config = STRICT_BODY

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]
    birth_date: Annotated[str, Field(pattern=DATE_PATTERN, description="YYYY-MM-DD, from 1900-01-01 to today.")]
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]


def _owner(central: CentralDep, owner_id: str) -> OwnerView:
    with central.engine.connect() as conn:
        owner = get_owner(conn, owner_id, central.cipher)
    if owner is None:
        raise NotFound(f"owner {owner_id!r} not found")
    return owner


@router.post("", status_code=201, response_model=OwnerView, **requires(Permission.OWNERS_WRITE))
def register_owner(body: OwnerCreate, central: CentralDep, principal: PrincipalDep, response: Response) -> OwnerView:
    owner_id = central.bus.handle(
        RegisterOwner(name=body.name, birth_date=body.birth_date, email=body.email, actor=principal.subject)
    )
    response.headers["Location"] = f"{router.prefix}/{owner_id}"
    return _owner(central, owner_id)


@router.get("/{owner_id}", response_model=OwnerView, **requires(Permission.OWNERS_READ))
def read_owner(owner_id: OwnerId, central: CentralDep) -> OwnerView:
    """The owner with the vehicles they hold now; name, birth date and e-mail are null once erased."""
    return _owner(central, owner_id)


@router.delete("/{owner_id}", response_model=OwnerView, **requires(Permission.OWNERS_WRITE))
def erase_owner(owner_id: OwnerId, central: CentralDep, principal: PrincipalDep) -> OwnerView:
    """Erase the owner's personal data for ever (crypto-shredding); their vehicles' history and
    infractions remain, without name, birth date or e-mail."""
    central.bus.handle(EraseOwner(owner_id=owner_id, actor=principal.subject))
    return _owner(central, owner_id)
