"""RFC 8032 section 7.1, Wycheproof and C2SP CCTV Ed25519 vectors against both verifiers (CPython).

tests/micropython/test_ed25519_vectors.py runs a subset on MicroPython.
"""

import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.central.errors import Invalid
from speedledger.central.radars.domain import RadarKey, parse_public_key
from speedledger.edge.core import ed25519
from speedledger.shared import keys
from tests.ed25519_vectors import DIRECTORY, Ed25519Case, all_cases, cctv_cases, rfc8032_cases, wycheproof_cases

CASES = all_cases()


def central_accepts(case: Ed25519Case) -> bool:
    """Central's verdict: the key passes registration, then the `cryptography` verifier agrees."""
    try:
        raw = parse_public_key(keys.b64encode(case.public_key))
        RadarKey(keys.key_id(raw), raw, 0).verifier().verify(case.signature, case.message)
    except (Invalid, InvalidSignature):
        return False
    return True


def test_the_vector_files_are_complete() -> None:
    assert len(rfc8032_cases()) == 5
    assert len(wycheproof_cases()) == 151
    assert len(cctv_cases()) == 914


def test_the_rfc8032_vectors_are_transcribed_exactly() -> None:
    """Each signature is reproduced from its secret key, so no digit of the copy can be wrong."""
    for test in json.loads((DIRECTORY / "rfc8032_7_1.json").read_text())["tests"]:
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(test["secret_key"]))
        assert private.public_key().public_bytes_raw().hex() == test["public_key"]
        assert private.sign(bytes.fromhex(test["message"])).hex() == test["signature"]
        assert (
            ed25519.Ed25519Signer(bytes.fromhex(test["secret_key"])).sign(bytes.fromhex(test["message"])).hex()
            == (test["signature"])
        )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_portable_verifier(case: Ed25519Case) -> None:
    assert ed25519.verify(case.public_key, case.message, case.signature) is case.portable_valid, case.flags


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_central_verifier(case: Ed25519Case) -> None:
    assert central_accepts(case) is case.central_valid, case.flags


def test_the_non_canonical_encoding_of_x_zero_is_refused() -> None:
    """`ecff..ff` is y = p - 1 with the sign bit set for x = 0: RFC 8032 5.1.3 says reject."""
    encoded = bytes.fromhex("ec" + "ff" * 31)
    with pytest.raises(ed25519.SignatureError):
        ed25519.check_public_key(encoded)
    canonical_r = bytes.fromhex("ec" + "ff" * 30 + "7f")
    signer = ed25519.Ed25519Signer(bytes(32))
    # The same small-order point R under its non-canonical encoding never verifies.
    assert not ed25519.verify(signer.public_key, b"", encoded + bytes(32))
    assert not ed25519.verify(signer.public_key, b"", canonical_r + bytes(32))
