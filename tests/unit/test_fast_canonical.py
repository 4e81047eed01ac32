"""shared.fast_canonical (CPython's C encoder) gives canonical.dumps' bytes, or its CanonicalError, for any value.

The portable encoder is the contract's (it runs on the boards, tests/micropython); the fast one must never
differ from it: not on the contract vectors, not on a valid message, not on anything the contract refuses.
"""

import random
import string
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speedledger.shared import canonical, fast_canonical, violation


def encoded(encoder: Any, obj: object) -> bytes | str:
    """The bytes, or the name of the error (so a refusal can be compared too)."""
    try:
        result: bytes = encoder(obj)
    except (ValueError, RecursionError) as error:  # CanonicalError is a ValueError
        return type(error).__name__
    return result


def test_contract_vectors(contract_vectors: dict[str, Any]) -> None:
    assert (
        fast_canonical.dumps(contract_vectors["violation_unsigned"])
        == contract_vectors["canonical_bytes_ascii"].encode()
    )
    signed = contract_vectors["violation_signed"]
    assert fast_canonical.signing_bytes(signed) == contract_vectors["canonical_bytes_ascii"].encode()
    assert fast_canonical.dumps(contract_vectors["passage_unsigned"]) == (
        contract_vectors["passage_canonical_bytes_ascii"].encode()
    )
    for case in contract_vectors["canonical_cases"]:
        assert fast_canonical.dumps(case["obj"]) == case["bytes"].encode()
    for bad in contract_vectors["must_reject"]:
        with pytest.raises(canonical.CanonicalError):
            fast_canonical.dumps(bad)


class Small(IntEnum):
    ONE = 1


class Text(str):
    pass


@pytest.mark.parametrize(
    "obj",
    [
        {"ctl": "\n\t\r\b\f\x00\x1f"},  # JSON's short escapes are not canonical: \u000a, ...
        {"del": "\x7f", "quote": '"', "backslash": "\\", "slash": "/", "escaped n": "\\n"},
        {"k\n": 1},
        {"non-ascii": "café"},
        {"emoji": "\U0001f697"},
        {"surrogate": "\ud800"},
        {"non-ascii key é": 1},
        {1: "int key"},
        {("a",): "tuple key"},
        {"flag": True},
        {"flag": False},
        {"none": None},
        {"float": 1.0},
        {"nan": float("nan")},
        {"tuple": (1, "a", [2])},
        {"set": {1}},
        {"bytes": b"x"},
        {"intenum": Small.ONE},
        {"str subclass": Text("x")},
        {"big": 10**400, "negative": -(2**63)},
        {"huge": 10**5000},
        "top-level string",
        7,
        [],
        {},
        [[[[[]]]]],
    ],
)
def test_edge_cases(obj: object) -> None:
    assert encoded(fast_canonical.dumps, obj) == encoded(canonical.dumps, obj)


def test_nesting_too_deep_fails_as_the_portable_encoder_does() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    assert encoded(fast_canonical.dumps, deep) == encoded(canonical.dumps, deep) == "RecursionError"


scalars = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(max_codepoint=0x7F)),  # ASCII: mostly the fast path, control characters too
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(st.text(alphabet=st.characters(max_codepoint=0x7F)), inner, max_size=5),
        st.dictionaries(st.text(), inner, max_size=3),
    ),
    max_leaves=20,
)


@settings(max_examples=1000, deadline=None)
@given(values)
def test_any_value_encodes_or_fails_the_same(obj: object) -> None:
    assert encoded(fast_canonical.dumps, obj) == encoded(canonical.dumps, obj)


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
        assert fast_canonical.signing_bytes(message) == canonical.signing_bytes(message)
        assert fast_canonical.dumps(message) == canonical.dumps(message)
