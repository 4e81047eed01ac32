"""`decide_violation` on its own: central's limit and status at detection time, the owner then, never a guess."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from speedledger.central.infractions.domain import DismissalReason, InfractionStatus, decide_violation
from speedledger.central.infractions.events import InfractionIssued, ViolationDismissed
from speedledger.central.infractions.fines import load_fine_schedule
from speedledger.central.radars.domain import RadarState, evolve
from speedledger.central.radars.events import (
    MetrologyRecorded,
    RadarRegistered,
    RadarStatusChanged,
    SpeedLimitChanged,
)
from speedledger.central.radars.metrology import PERIODIC_VERIFICATION
from speedledger.central.registration.domain import Ownership, VehicleState
from speedledger.shared import keys

REGISTERED = 1_000_000
DETECTED = 2_000_000
NOW = 3_000_000
SCHEDULE = load_fine_schedule()


#: A periodic verification covering every instant of these tests.
VERIFICATION = MetrologyRecorded(
    radar_id="R1",
    kind=PERIODIC_VERIFICATION,
    approval_number="VP-1",
    verifying_body="Test body",
    verified_at_ms=0,
    valid_until_ms=10 * NOW,
    certificate_sha256="5" * 64,
    recorded_at_ms=REGISTERED,
)


def radar(
    *changes: RadarStatusChanged | SpeedLimitChanged | MetrologyRecorded, limit: int = 90, verified: bool = True
) -> RadarState:
    state = evolve(
        None,
        RadarRegistered(
            radar_id="R1",
            name="A6 PK 12",
            latitude=48.6,
            longitude=2.4,
            speed_limit_kmh=limit,
            public_key=keys.b64encode(bytes(32)),
            key_id="0" * 16,
            registered_at_ms=REGISTERED,
        ),
    )
    for change in (VERIFICATION, *changes) if verified else changes:
        state = evolve(state, change)
    return state


def limit_change(limit: int, at_ms: int, previous: int = 90) -> SpeedLimitChanged:
    return SpeedLimitChanged(
        radar_id="R1", speed_limit_kmh=limit, previous_speed_limit_kmh=previous, effective_at_ms=at_ms
    )


def status_change(status: str, at_ms: int) -> RadarStatusChanged:
    previous = "inactive" if status == "active" else "active"
    return RadarStatusChanged(radar_id="R1", status=status, previous_status=previous, effective_at_ms=at_ms)


def message(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": "5b0e8c5e-1f6f-4a57-9e5c-7f3f0a3b9d21",
        "radar_id": "R1",
        "seq": 7,
        "detected_at_ms": DETECTED,
        "speed_limit_kmh": 90,
        "measured_speed_ckmh": 10432,
        "direction": "approaching",
        "plate": "GZ123QK",
        "plate_confidence_pm": 987,
        "image_sha256": "a1" * 32,
        **fields,
    }


ALICE = VehicleState("GZ123QK", (Ownership("alice", REGISTERED),))


def test_an_infraction_charged_to_the_owner_with_the_fine_of_the_schedule() -> None:
    decision = decide_violation(message(), radar(), ALICE, SCHEDULE, NOW)

    assert isinstance(decision, InfractionIssued)
    # 104.32 km/h -> 99 retained, 9 over a 90 limit: 68 EUR and 1 point (docs/domain.md's table).
    assert (decision.retained_speed_kmh, decision.excess_kmh, decision.fine_eur, decision.points) == (99, 9, 68, 1)
    assert (decision.status, decision.owner_id, decision.unidentified_reason) == ("issued", "alice", None)
    assert decision.infraction_id == str(
        uuid.uuid5(uuid.UUID("6f1e7b52-2d0c-5b8e-9a43-3c9d1f0e7a61"), message()["event_id"])
    )
    assert (decision.issued_at_ms, decision.fine_schedule) == (NOW, "fr-2024")
    assert decide_violation(message(), radar(), ALICE, SCHEDULE, NOW) == decision


@pytest.mark.parametrize(("measured_ckmh", "over"), [(9599, False), (9600, True), (10000, True), (9999, True)])
def test_one_km_h_over_the_limit_after_the_margin_is_an_infraction(measured_ckmh: int, over: bool) -> None:
    # 95.99 km/h retains 90 (not over 90); 96.00 retains 91; 99.99 retains 94 and 100.00 retains 95.
    decision = decide_violation(message(measured_speed_ckmh=measured_ckmh), radar(), ALICE, SCHEDULE, NOW)
    assert isinstance(decision, InfractionIssued) is over
    if not over:
        assert isinstance(decision, ViolationDismissed) and decision.reason == "not_over_limit"


def test_unknown_radar_is_dismissed_without_a_limit() -> None:
    decision = decide_violation(message(), None, ALICE, SCHEDULE, NOW)
    assert isinstance(decision, ViolationDismissed)
    assert (decision.reason, decision.speed_limit_kmh, decision.device_speed_limit_kmh) == ("unknown_radar", None, 90)


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ((status_change("inactive", DETECTED - 1),), "radar_inactive"),
        ((status_change("inactive", DETECTED),), "radar_inactive"),
        ((status_change("inactive", DETECTED + 1),), "issued"),
        ((status_change("inactive", DETECTED - 2), status_change("active", DETECTED - 1)), "issued"),
    ],
)
def test_the_status_at_detection_time_governs(changes: tuple[RadarStatusChanged, ...], outcome: str) -> None:
    decision = decide_violation(message(), radar(*changes), ALICE, SCHEDULE, NOW)
    assert (decision.reason if isinstance(decision, ViolationDismissed) else decision.status) == outcome


@pytest.mark.parametrize(
    ("changes", "limit", "outcome"),
    [
        ((), 90, "issued"),
        ((limit_change(110, DETECTED + 1),), 90, "issued"),  # raised after the detection: too late
        ((limit_change(110, DETECTED),), 110, "not_over_limit"),
        ((limit_change(50, DETECTED - 1),), 50, "issued"),
    ],
)
def test_centrals_limit_at_detection_time_governs_not_the_devices(
    changes: tuple[SpeedLimitChanged, ...], limit: int, outcome: str
) -> None:
    decision = decide_violation(message(speed_limit_kmh=130), radar(*changes), ALICE, SCHEDULE, NOW)
    assert decision.speed_limit_kmh == limit and decision.device_speed_limit_kmh == 130
    assert (decision.reason if isinstance(decision, ViolationDismissed) else decision.status) == outcome


def test_a_detection_before_the_radars_registration_uses_its_first_limit() -> None:
    decision = decide_violation(message(detected_at_ms=REGISTERED - 1), radar(limit=50), ALICE, SCHEDULE, NOW)
    assert decision.speed_limit_kmh == 50


@pytest.mark.parametrize(
    ("plate", "vehicle", "reason"),
    [
        ("", None, "plate_unread"),
        ("GZ123QK", None, "plate_unknown"),
        ("GZ123QK", VehicleState("GZ123QK", (Ownership("bob", DETECTED + 1),)), "no_owner_at_detection"),
    ],
)
def test_an_unidentified_infraction_is_never_charged_on_a_guess(
    plate: str, vehicle: VehicleState | None, reason: str
) -> None:
    decision = decide_violation(message(plate=plate), radar(), vehicle, SCHEDULE, NOW)
    assert isinstance(decision, InfractionIssued)
    assert (decision.status, decision.owner_id, decision.unidentified_reason) == (
        InfractionStatus.UNIDENTIFIED,
        None,
        reason,
    )


def test_the_owner_at_detection_time_not_the_current_one() -> None:
    sold = VehicleState("GZ123QK", (Ownership("alice", REGISTERED), Ownership("bob", DETECTED + 1)))
    bought = VehicleState("GZ123QK", (Ownership("alice", REGISTERED), Ownership("bob", DETECTED)))
    for vehicle, owner_id in ((sold, "alice"), (bought, "bob")):
        decision = decide_violation(message(), radar(), vehicle, SCHEDULE, NOW)
        assert isinstance(decision, InfractionIssued) and decision.owner_id == owner_id


def test_no_infraction_without_a_verification_in_force_at_detection() -> None:
    lapsing = MetrologyRecorded(**{**VERIFICATION.data(), "valid_until_ms": DETECTED})
    for state in (radar(verified=False), radar(lapsing, verified=False)):
        decision = decide_violation(message(measured_speed_ckmh=20000), state, ALICE, SCHEDULE, NOW)
        assert isinstance(decision, ViolationDismissed)
        assert (decision.reason, decision.speed_limit_kmh) == (DismissalReason.RADAR_NOT_VERIFIED, 90)
    in_force = decide_violation(
        message(detected_at_ms=DETECTED - 1), radar(lapsing, verified=False), ALICE, SCHEDULE, NOW
    )
    assert isinstance(in_force, InfractionIssued)
