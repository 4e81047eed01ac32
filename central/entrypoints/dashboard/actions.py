"""The status changes an infraction page offers: each is one command of the infractions context.

Which are offered follows the lifecycle (`domain.ALLOWED_FROM`) and the viewer's role; the command
handlers refuse anything else anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from speedledger.central.infractions.commands import (
    CancelInfraction,
    ContestInfraction,
    IdentifyInfraction,
    PayInfraction,
    UpholdInfraction,
)
from speedledger.central.infractions.domain import ALLOWED_FROM
from speedledger.central.infractions.events import (
    InfractionCancelled,
    InfractionContested,
    InfractionIdentified,
    InfractionPaid,
    InfractionUpheld,
)
from speedledger.central.messages import Command, Event


@dataclass(frozen=True)
class Action:
    name: str
    #: The command, taking `infraction_id`, `field` and `actor`.
    command: Callable[..., Command]
    #: The event the action records; ALLOWED_FROM says from which statuses.
    event: type[Event]
    #: The command's text field the form fills in: a payment reference, a reason, or the plate read on the photo.
    field: str

    def allowed_from(self, status: str) -> bool:
        return status in ALLOWED_FROM[self.event]

    def make(self, infraction_id: str, text: str, actor: str) -> Command:
        return self.command(infraction_id=infraction_id, actor=actor, **{self.field: text})


ACTIONS = {
    action.name: action
    for action in (
        Action("pay", PayInfraction, InfractionPaid, "reference"),
        Action("contest", ContestInfraction, InfractionContested, "reason"),
        Action("uphold", UpholdInfraction, InfractionUpheld, "reason"),
        Action("cancel", CancelInfraction, InfractionCancelled, "reason"),
        Action("identify", IdentifyInfraction, InfractionIdentified, "plate"),
    )
}


def offered(status: str) -> list[Action]:
    """The actions the lifecycle allows from `status`."""
    return [action for action in ACTIONS.values() if action.allowed_from(status)]
