"""Bearer-token authentication and role-based authorisation for the REST API."""

from speedledger.central.auth.roles import PERMISSIONS, Permission, Role, allows
from speedledger.central.auth.tokens import (
    DEFAULT_TTL_S,
    InvalidToken,
    Principal,
    TokenAuthority,
    WeakSecret,
    parse_ttl,
)

__all__ = [
    "DEFAULT_TTL_S",
    "PERMISSIONS",
    "InvalidToken",
    "Permission",
    "Principal",
    "Role",
    "TokenAuthority",
    "WeakSecret",
    "allows",
    "parse_ttl",
]
