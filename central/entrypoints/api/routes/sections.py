"""Sections (CONTRACT §6): average-speed control between an entry and an exit radar."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep, PrincipalDep
from speedledger.central.entrypoints.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, paginate
from speedledger.central.entrypoints.api.routes.radars import SpeedLimit
from speedledger.central.entrypoints.api.schemas import RADAR_ID_PATTERN, ErrorOut, Millis
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.errors import NotFound
from speedledger.central.sections.commands import ChangeSectionLimit, CreateSection
from speedledger.central.sections.domain import MAX_DISTANCE_M, MIN_DISTANCE_M
from speedledger.central.sections.queries import (
    AmbiguityView,
    SectionView,
    get_section,
    list_ambiguities,
    list_sections,
)

router = APIRouter(prefix="/api/v1/sections", tags=["sections"], route_class=GuardedRoute)

SectionId = Annotated[str, Path(pattern=RADAR_ID_PATTERN, description="`[A-Za-z0-9-]{1,32}`")]
RadarIdField = Annotated[str, Field(pattern=RADAR_ID_PATTERN)]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such section."}}
_CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "A radar of the section is not registered."},
    409: {"model": ErrorOut, "description": "The section exists."},
}
_CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    409: {"model": ErrorOut, "description": "effective_at_ms is before the previous limit change."},
}


class SectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section_id: Annotated[str, Field(pattern=RADAR_ID_PATTERN)]
    entry_radar_id: RadarIdField
    exit_radar_id: RadarIdField
    distance_m: Annotated[
        int, Field(ge=MIN_DISTANCE_M, le=MAX_DISTANCE_M, description="Driving distance between the reference lines.")
    ]
    speed_limit_kmh: SpeedLimit


class SectionPatch(BaseModel):
    """A new limit, in force from `effective_at_ms` (default now)."""

    model_config = ConfigDict(extra="forbid")

    speed_limit_kmh: SpeedLimit
    effective_at_ms: Millis | None = None


def _section(central: CentralDep, section_id: str) -> SectionView:
    with central.engine.connect() as conn:
        section = get_section(conn, section_id)
    if section is None:
        raise NotFound(f"section {section_id!r} not found")
    return section


@router.post(
    "", status_code=201, response_model=SectionView, responses=_CREATE_ERRORS, **requires(Permission.SECTIONS_WRITE)
)
def create_section(
    body: SectionCreate, central: CentralDep, principal: PrincipalDep, response: Response
) -> SectionView:
    """404 when a radar is not registered, 409 when the section exists, 422 for the same radar at both ends."""
    section_id = central.bus.handle(CreateSection(**body.model_dump(), actor=principal.subject))
    response.headers["Location"] = f"{router.prefix}/{section_id}"
    return _section(central, section_id)


@router.get("", response_model=Page[SectionView], **requires(Permission.SECTIONS_READ))
def read_sections(
    central: CentralDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[SectionView]:
    """By section_id; pass `next_cursor` back as `cursor` for the next page."""
    (after,) = decode_cursor(cursor, (str,)) if cursor else ("",)
    with central.engine.connect() as conn:
        # Sorted here by code point: the cursor compares that way, whatever the database's collation.
        sections = sorted(list_sections(conn), key=lambda section: section.section_id)
    page = [section for section in sections if section.section_id > str(after)][: limit + 1]
    return paginate(page, limit, lambda section: (section.section_id,))


@router.get("/{section_id}", response_model=SectionView, responses=_NOT_FOUND, **requires(Permission.SECTIONS_READ))
def read_section(section_id: SectionId, central: CentralDep) -> SectionView:
    return _section(central, section_id)


@router.patch(
    "/{section_id}", response_model=SectionView, responses=_CHANGE_ERRORS, **requires(Permission.SECTIONS_WRITE)
)
def change_section_limit(
    section_id: SectionId, body: SectionPatch, central: CentralDep, principal: PrincipalDep
) -> SectionView:
    """Change the limit; pairs already judged keep the limit in force at their exit time."""
    central.bus.handle(ChangeSectionLimit(section_id=section_id, **body.model_dump(), actor=principal.subject))
    return _section(central, section_id)


@router.get(
    "/{section_id}/ambiguities",
    response_model=list[AmbiguityView],
    responses=_NOT_FOUND,
    **requires(Permission.SECTIONS_READ),
)
def read_ambiguities(section_id: SectionId, central: CentralDep) -> list[AmbiguityView]:
    """Passages that could pair in more than one way and so gave no infraction (addition to the contract)."""
    _section(central, section_id)
    with central.engine.connect() as conn:
        return list_ambiguities(conn, section_id, central.passages)
