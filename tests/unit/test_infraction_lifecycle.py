"""The infraction lifecycle, decided by pure code: every status against every action, without a store."""

from __future__ import annotations

import itertools

import pytest

from speedledger.central.errors import Conflict, NotFound
from speedledger.central.infractions.domain import InfractionState, InfractionStatus, evolve, identify, transition
from speedledger.central.infractions.events import (
    InfractionCancelled,
    InfractionContested,
    InfractionIdentified,
    InfractionPaid,
    InfractionUpheld,
)
from speedledger.central.messages import Event
from speedledger.central.registration.domain import Ownership, VehicleState

ID = "11111111-2222-3333-4444-555555555555"
DETECTED = 1_000_000
ISSUED, PAID, CONTESTED, CANCELLED, UNIDENTIFIED = (
    InfractionStatus.ISSUED,
    InfractionStatus.PAID,
    InfractionStatus.CONTESTED,
    InfractionStatus.CANCELLED,
    InfractionStatus.UNIDENTIFIED,
)

ACTIONS: dict[str, Event] = {
    "pay": InfractionPaid(infraction_id=ID, reference="tx-1", at_ms=DETECTED + 1),
    "contest": InfractionContested(infraction_id=ID, reason="not me", at_ms=DETECTED + 1),
    "cancel": InfractionCancelled(infraction_id=ID, reason="faulty radar", at_ms=DETECTED + 1),
    "uphold": InfractionUpheld(infraction_id=ID, reason="photo is clear", at_ms=DETECTED + 1),
    "identify": InfractionIdentified(infraction_id=ID, plate="GZ123QK", owner_id="alice", at_ms=DETECTED + 1),
}

#: docs/domain.md's diagram: (status, action) -> the status after it; every other pair is a Conflict.
LIFECYCLE = {
    (ISSUED, "pay"): PAID,
    (ISSUED, "contest"): CONTESTED,
    (ISSUED, "cancel"): CANCELLED,
    (CONTESTED, "cancel"): CANCELLED,
    (CONTESTED, "uphold"): ISSUED,
    (UNIDENTIFIED, "identify"): ISSUED,
    (UNIDENTIFIED, "cancel"): CANCELLED,
}


def state(status: InfractionStatus) -> InfractionState:
    return InfractionState(infraction_id=ID, status=status, detected_at_ms=DETECTED)


def test_the_statuses_are_the_rest_strings() -> None:
    assert [str(status) for status in InfractionStatus] == ["issued", "paid", "contested", "cancelled", "unidentified"]


@pytest.mark.parametrize(("status", "action"), list(itertools.product(InfractionStatus, ACTIONS)))
def test_every_status_against_every_action(status: InfractionStatus, action: str) -> None:
    event = ACTIONS[action]
    after = LIFECYCLE.get((status, action))
    if after is None:
        with pytest.raises(Conflict, match=f"infraction {ID} is {status};"):
            transition(ID, state(status), event)
        return
    assert transition(ID, state(status), event) == [event]
    assert evolve(state(status), event) == state(after)


@pytest.mark.parametrize("action", ACTIONS)
def test_no_action_on_an_infraction_that_does_not_exist(action: str) -> None:
    with pytest.raises(NotFound, match=ID):
        transition(ID, None, ACTIONS[action])


def test_paid_and_cancelled_are_final() -> None:
    for final in (PAID, CANCELLED):
        assert not [action for (status, action) in LIFECYCLE if status == final]


@pytest.mark.parametrize("action", ACTIONS)
def test_a_lifecycle_event_before_the_infraction_cannot_be_folded(action: str) -> None:
    with pytest.raises(ValueError, match="before InfractionIssued"):
        evolve(None, ACTIONS[action])


def test_identify_charges_the_owner_at_detection_time() -> None:
    sold = VehicleState("GZ123QK", (Ownership("alice", DETECTED - 10), Ownership("bob", DETECTED + 10)))

    (identified,) = identify(ID, state(UNIDENTIFIED), "GZ123QK", sold, now_ms=DETECTED + 99)

    assert identified == InfractionIdentified(infraction_id=ID, plate="GZ123QK", owner_id="alice", at_ms=DETECTED + 99)


def test_identify_never_guesses() -> None:
    later = VehicleState("GZ123QK", (Ownership("bob", DETECTED + 1),))
    with pytest.raises(Conflict, match="nobody owned GZ123QK"):
        identify(ID, state(UNIDENTIFIED), "GZ123QK", later, now_ms=DETECTED + 99)
    with pytest.raises(NotFound, match="vehicle GZ123QK is not registered"):
        identify(ID, state(UNIDENTIFIED), "GZ123QK", None, now_ms=DETECTED + 99)
    with pytest.raises(NotFound, match=f"infraction {ID} does not exist"):
        identify(ID, None, "GZ123QK", later, now_ms=DETECTED + 99)
    owned = VehicleState("GZ123QK", (Ownership("alice", 0),))
    with pytest.raises(Conflict, match="is issued"):
        identify(ID, state(ISSUED), "GZ123QK", owned, now_ms=DETECTED + 99)
