"""Payment terms of the default schedule and payment references."""

from __future__ import annotations

from speedledger.central.infractions.fines import fine_schedule_document
from speedledger.central.infractions.payment import PaymentTerms, payment_reference
from speedledger.central.radars.metrology import DAY_MS


def test_fixed_penalties_and_court_cases() -> None:
    terms = PaymentTerms.from_schedule(fine_schedule_document())
    assert terms is not None
    reduced, standard, increased = terms.amounts(68, 0)
    assert (reduced.fine_eur, reduced.due_by_ms) == (45, 15 * DAY_MS)
    assert (standard.fine_eur, standard.due_by_ms) == (68, 45 * DAY_MS)
    assert (increased.fine_eur, increased.after_ms) == (180, 45 * DAY_MS)
    assert [amount.fine_eur for amount in terms.amounts(135, 0)] == [90, 135, 375]
    (court,) = terms.amounts(1500, 0)
    assert (court.fine_eur, court.due_by_ms, court.after_ms) == (1500, None, None)
    assert PaymentTerms.from_schedule({"name": "no-terms"}) is None


def test_payment_reference_has_check_digits() -> None:
    references = {payment_reference(f"infraction-{index}") for index in range(200)}
    assert len(references) == 200
    for reference in references:
        digits = reference.replace(" ", "")
        assert len(digits) == 18 and digits.isdigit()
        assert int(digits) % 97 == 1  # ISO 7064 mod 97-10
    reference = payment_reference("infraction-1").replace(" ", "")
    mistyped = reference[:3] + str((int(reference[3]) + 1) % 10) + reference[4:]
    assert int(mistyped) % 97 != 1
