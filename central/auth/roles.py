"""Roles and what each may do: the single source of the access matrix (documented in docs/rest.md).

CONTRACT §5: `admin` (all), `operator` (radars; and sections, CONTRACT §6), `registry` (owners,
vehicles), `agency` (read everything, change infraction status).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    REGISTRY = "registry"
    AGENCY = "agency"


class Permission(StrEnum):
    RADARS_READ = "radars:read"
    RADARS_WRITE = "radars:write"
    SECTIONS_READ = "sections:read"
    SECTIONS_WRITE = "sections:write"
    OWNERS_READ = "owners:read"
    OWNERS_WRITE = "owners:write"
    VEHICLES_READ = "vehicles:read"
    VEHICLES_WRITE = "vehicles:write"
    INFRACTIONS_READ = "infractions:read"
    INFRACTIONS_STATUS = "infractions:status"
    EVENTS_READ = "events:read"
    QUARANTINE_READ = "quarantine:read"


_READ_EVERYTHING = frozenset(p for p in Permission if p.value.endswith(":read"))

PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    # Operators run the radar fleet and its sections; the quarantine is where a misconfigured radar's
    # messages land.
    Role.OPERATOR: frozenset(
        {
            Permission.RADARS_READ,
            Permission.RADARS_WRITE,
            Permission.SECTIONS_READ,
            Permission.SECTIONS_WRITE,
            Permission.QUARANTINE_READ,
        }
    ),
    Role.REGISTRY: frozenset(
        {Permission.OWNERS_READ, Permission.OWNERS_WRITE, Permission.VEHICLES_READ, Permission.VEHICLES_WRITE}
    ),
    Role.AGENCY: _READ_EVERYTHING | {Permission.INFRACTIONS_STATUS},
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]
