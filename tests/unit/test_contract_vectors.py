"""CONTRACT section 1 and 3 vectors against the shared wire code."""

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from speedledger.shared import canonical, keys, passage, plates


def test_violation_canonical_bytes(contract_vectors: dict[str, Any]) -> None:
    expected = contract_vectors["canonical_bytes_ascii"].encode()
    assert canonical.dumps(contract_vectors["violation_unsigned"]) == expected
    assert canonical.signing_bytes(contract_vectors["violation_signed"]) == expected


def test_canonical_cases(contract_vectors: dict[str, Any]) -> None:
    for case in contract_vectors["canonical_cases"]:
        assert canonical.dumps(case["obj"]) == case["bytes"].encode()


@pytest.mark.parametrize("index", range(4))
def test_canonical_rejects(contract_vectors: dict[str, Any], index: int) -> None:
    with pytest.raises(canonical.CanonicalError):
        canonical.dumps(contract_vectors["must_reject"][index])


def test_canonical_escapes_every_control_character() -> None:
    text = "".join(chr(code) for code in range(0x20)) + '"\\\x7f'
    encoded = canonical.dumps(text).decode()
    assert encoded.count("\\u00") == 0x20
    assert encoded.endswith('\\"\\\\\x7f"')
    assert encoded.isascii()


def test_key_id_and_signature(contract_vectors: dict[str, Any]) -> None:
    secret = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(contract_vectors["ed25519_secret_key_hex"]))
    public_raw = secret.public_key().public_bytes_raw()
    assert keys.b64encode(public_raw) == contract_vectors["public_key_b64"]
    assert keys.key_id(public_raw) == contract_vectors["key_id"]
    message = contract_vectors["violation_signed"]
    signature = keys.b64decode(message["sig"])
    assert keys.b64encode(secret.sign(canonical.signing_bytes(message))) == message["sig"]
    Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, canonical.signing_bytes(message))


@pytest.mark.parametrize(
    ("raw", "normalised"), [("ab-123 cd", "AB123CD"), ("gz-123-qk", "GZ123QK"), ("é-1", "1"), ("", "")]
)
def test_plate_normalisation(raw: str, normalised: str) -> None:
    assert plates.normalise(raw) == normalised


@pytest.mark.parametrize(
    ("plate", "valid"),
    [
        ("GZ123QK", True),
        ("AA001AA", True),
        ("IA123AA", False),
        ("AA123AO", False),
        ("AU123AA", False),
        ("AA12AAA", False),
        ("AA1234A", False),
        ("", False),
    ],
)
def test_french_siv_format(plate: str, valid: bool) -> None:
    assert plates.is_french_siv(plate) is valid


def test_passage_canonical_bytes_and_signature(contract_vectors: dict[str, Any]) -> None:
    expected = contract_vectors["passage_canonical_bytes_ascii"].encode()
    unsigned, signed = contract_vectors["passage_unsigned"], contract_vectors["passage_signed"]
    assert canonical.dumps(unsigned) == expected
    assert canonical.signing_bytes(signed) == expected
    passage.validate(unsigned, signed=False)
    passage.validate(signed)
    secret = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(contract_vectors["ed25519_secret_key_hex"]))
    assert keys.b64encode(secret.sign(expected)) == signed["sig"]
    assert keys.key_id(secret.public_key().public_bytes_raw()) == signed["key_id"]
