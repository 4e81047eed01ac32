"""The passage field spec (shared/passage.py): what it shares with violations and where it is stricter."""

from typing import Any

import pytest

from speedledger.shared import passage


@pytest.fixture
def message(contract_vectors: dict[str, Any]) -> dict[str, Any]:
    return dict(contract_vectors["passage_signed"])


@pytest.mark.parametrize("field", passage.FIELDS)
def test_every_field_is_required(message: dict[str, Any], field: str) -> None:
    del message[field]
    with pytest.raises(passage.ViolationError) as caught:
        passage.validate(message)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("plate", ""),
        ("plate", "gh456jk"),
        ("image_sha256", ""),
        ("clock_uncertainty_ms", -1),
        ("clock_uncertainty_ms", passage.MAX_CLOCK_UNCERTAINTY_MS + 1),
        ("passed_at_ms", 0),
        ("direction", "sideways"),
        ("plate_confidence_pm", 1001),
    ],
)
def test_bad_values_name_the_field(message: dict[str, Any], field: str, value: object) -> None:
    with pytest.raises(passage.ViolationError) as caught:
        passage.validate({**message, field: value})
    assert caught.value.field == field


def test_a_violation_is_not_a_passage(contract_vectors: dict[str, Any]) -> None:
    with pytest.raises(passage.ViolationError) as caught:
        passage.validate(contract_vectors["violation_signed"])
    assert caught.value.field == "passed_at_ms"


def test_later_optional_fields_are_accepted(message: dict[str, Any]) -> None:
    passage.validate({**message, "lane": 2})
