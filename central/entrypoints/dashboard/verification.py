"""What an infraction page shows about its evidence: central's own checks, run again on what is stored.

Each signed message of the infraction (a spot violation; a section's entry and exit passages) is
checked: its signature by the ingest's `signature_verifies` with the radar's key as the event log
holds it (`load_radar`, revoked keys included: evidence signed before a revocation still verifies);
its photo by hashing the stored JPEG and comparing with the `image_sha256` the radar signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.ingest.checks import signature_verifies
from speedledger.central.ingest.queries import Evidence
from speedledger.central.radars.lookup import RadarState


@dataclass(frozen=True)
class Verification:
    key_id: str
    #: The radar holds a key with this id (revoked or not).
    key_known: bool
    key_revoked: bool
    signature_valid: bool
    #: received, pending, missing or none (the radar sent no image).
    evidence_status: str
    #: The stored photo hashes to the signed `image_sha256`; None while there is no photo to hash.
    evidence_hash_matches: bool | None


def verify_signed(message: Mapping[str, Any], radar: RadarState | None, evidence: Evidence) -> Verification:
    """The checks of one signed message (violation or passage) of `radar` and its stored photo."""
    key_id = str(message.get("key_id", ""))
    key = radar.key(key_id) if radar is not None else None
    matches = None
    if evidence.content is not None:
        matches = hashlib.sha256(evidence.content).hexdigest() == message.get("image_sha256")
    return Verification(
        key_id=key_id,
        key_known=key is not None,
        key_revoked=key is not None and key.revoked,
        signature_valid=key is not None and signature_verifies(key.public_key, dict(message)),
        evidence_status=evidence.status,
        evidence_hash_matches=matches,
    )
