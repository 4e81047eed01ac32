"""The ingest's fast signing bytes equal the portable canonical encoder's for every valid message."""

from __future__ import annotations

import random
import string
from typing import Any

from speedledger.central.ingest.checks import signing_bytes
from speedledger.shared import canonical, violation


def test_contract_vector(contract_vectors: dict[str, Any]) -> None:
    message = contract_vectors["violation_signed"]
    assert signing_bytes(message) == contract_vectors["canonical_bytes_ascii"].encode()


def test_equal_to_the_portable_encoder_on_random_valid_messages(contract_vectors: dict[str, Any]) -> None:
    rng = random.Random(1234)
    printable = string.printable[:95]  # space to tilde, quotes and backslash included
    for _ in range(500):
        message = dict(contract_vectors["violation_signed"])
        message["firmware"] = "".join(rng.choice(printable) for _ in range(rng.randint(1, 64)))
        alphabet = string.ascii_uppercase + string.digits
        message["plate"] = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        message["seq"] = rng.randint(1, violation.MAX_SAFE_INT)
        message["snr_cdb"] = rng.randint(-10_000, 20_000)
        for index in range(rng.randint(0, 3)):
            extra = "".join(rng.choice(printable) for _ in range(rng.randint(0, 20)))
            message[f"x_{index}"] = extra if rng.random() < 0.5 else rng.randint(-(2**40), 2**40)
        violation.validate(message)
        assert signing_bytes(message) == canonical.signing_bytes(message)
