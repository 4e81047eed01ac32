"""What a notice asks the owner to pay, and by when: the fine schedule's optional `payment` section.

A fixed penalty has a reduced amount (paid within `reduced_within_days` of the notice), the standard
amount (within `standard_within_days`) and an increased amount after that; a fine the schedule gives
no fixed penalty for is set by a court. The payment reference is derived from the infraction id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.radars.metrology import DAY_MS


@dataclass(frozen=True)
class Amount:
    label: str
    fine_eur: int
    #: This amount applies if paid by this instant (ms)...
    due_by_ms: int | None = None
    #: ...or if paid after this one (the increased amount).
    after_ms: int | None = None


@dataclass(frozen=True)
class PaymentTerms:
    reduced_within_days: int
    standard_within_days: int
    #: fine_eur -> (reduced_eur, increased_eur)
    fixed_penalties: Mapping[int, tuple[int, int]]
    contest: str

    @classmethod
    def from_schedule(cls, document: Mapping[str, Any]) -> PaymentTerms | None:
        """The terms in a fine schedule document, or None when it has no `payment` section."""
        payment = document.get("payment")
        if payment is None:
            return None
        return cls(
            reduced_within_days=int(payment["reduced_within_days"]),
            standard_within_days=int(payment["standard_within_days"]),
            fixed_penalties={
                int(row["fine_eur"]): (int(row["reduced_eur"]), int(row["increased_eur"]))
                for row in payment["fixed_penalties"]
            },
            contest=str(payment["contest"]),
        )

    def amounts(self, fine_eur: int, notified_at_ms: int) -> list[Amount]:
        """Reduced, standard and increased amounts with their deadlines; only the fine for a court case."""
        penalty = self.fixed_penalties.get(fine_eur)
        if penalty is None:
            return [Amount("set by the court, up to", fine_eur)]
        reduced, increased = penalty
        standard_by_ms = notified_at_ms + self.standard_within_days * DAY_MS
        return [
            Amount("reduced", reduced, due_by_ms=notified_at_ms + self.reduced_within_days * DAY_MS),
            Amount("standard", fine_eur, due_by_ms=standard_by_ms),
            Amount("increased", increased, after_ms=standard_by_ms),
        ]


def payment_reference(infraction_id: str) -> str:
    """16 digits from the infraction id and 2 ISO 7064 mod 97-10 check digits, grouped by four."""
    number = int(hashlib.sha256(infraction_id.encode()).hexdigest(), 16) % 10**16
    digits = f"{number:016d}{98 - number * 100 % 97:02d}"
    return " ".join(digits[index : index + 4] for index in range(0, len(digits), 4))
