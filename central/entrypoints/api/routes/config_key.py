"""Central's config-signing public key: radars are provisioned with it to verify their signed config."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from speedledger.central.auth import Permission
from speedledger.central.bootstrap import central_config_key
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.security import GuardedRoute, requires

router = APIRouter(prefix="/api/v1/config-key", tags=["radars"], route_class=GuardedRoute)


class ConfigKeyOut(BaseModel):
    algorithm: Literal["Ed25519"]
    #: CONTRACT §1: first 16 hex characters of SHA-256 of the raw public key.
    key_id: str
    #: Standard base64 of the raw 32-byte public key.
    public_key: str


@router.get("", response_model=ConfigKeyOut, **requires(Permission.RADARS_READ))
def read_config_key(central: CentralDep) -> ConfigKeyOut:
    """The key that signs the retained `config` messages (speed limit, tolerance) central sends radars.

    The same key the ingest uses (SPEEDLEDGER_CONFIG_KEY, default beside the SQLite database, created
    on first use; a named file must exist, else 503). An addition to CONTRACT §5."""
    return ConfigKeyOut.model_validate(central_config_key(central.settings).public_info())
