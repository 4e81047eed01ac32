"""shared.keys.b64decode accepts one spelling per value: the canonical one `b64encode` gives."""

import pytest

from speedledger.shared import keys


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x01", bytes(range(32)), bytes(64)])
def test_round_trip(data: bytes) -> None:
    assert keys.b64decode(keys.b64encode(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        "AB==",  # unused bits set: lenient decoders read it as "AA=="
        "AAB=",
        "A" * 42 + "B=",  # a 32-byte key whose last character carries a set unused bit
        "AA",  # padding missing
        "AA==\n",
        " AA==",
        "AA=\n=",
        "not base64!",
    ],
)
def test_non_canonical_or_malformed_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        keys.b64decode(text)
