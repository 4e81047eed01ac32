"""External Ed25519 test vectors (tests/vectors/ed25519/, see its README) as one list of cases.

Each case says what the portable verifier (`edge/core/ed25519.py`: RFC 8032 decoding, cofactorless
equation) and central (key accepted at registration, then `cryptography`'s verify) must answer.
RFC 8032 and Wycheproof give the expected result; the CCTV vectors carry flags instead, and the
expectation follows from the rules below (README: "Expected results").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DIRECTORY = Path(__file__).parent / "vectors" / "ed25519"

#: CCTV flags that make a signature invalid for RFC 8032 section 5.1.7 with the cofactorless
#: equation: non-canonical A or R must be rejected; a low-order residue only verifies cofactored.
PORTABLE_REJECTS = frozenset({"non_canonical_A", "non_canonical_R", "low_order_residue"})
#: Central refuses small-order and non-canonical keys at registration and rotation; OpenSSL rejects
#: non-canonical R and low-order residues (it accepts a non-canonical A, which never gets that far).
CENTRAL_REJECTS = frozenset({"low_order_A", "non_canonical_A", "non_canonical_R", "low_order_residue"})


@dataclass(frozen=True)
class Ed25519Case:
    name: str
    public_key: bytes
    message: bytes
    signature: bytes
    portable_valid: bool
    central_valid: bool
    flags: tuple[str, ...] = ()


def rfc8032_cases() -> list[Ed25519Case]:
    data = json.loads((DIRECTORY / "rfc8032_7_1.json").read_text())
    return [
        Ed25519Case(
            f"rfc8032 {test['name']}",
            bytes.fromhex(test["public_key"]),
            bytes.fromhex(test["message"]),
            bytes.fromhex(test["signature"]),
            portable_valid=True,
            central_valid=True,
        )
        for test in data["tests"]
    ]


def wycheproof_cases() -> list[Ed25519Case]:
    data = json.loads((DIRECTORY / "wycheproof_ed25519_test.json").read_text())
    return [
        Ed25519Case(
            f"wycheproof tcId {test['tcId']}",
            bytes.fromhex(group["publicKey"]["pk"]),
            bytes.fromhex(test["msg"]),
            bytes.fromhex(test["sig"]),
            portable_valid=test["result"] == "valid",
            central_valid=test["result"] == "valid",
            flags=tuple(test["flags"]),
        )
        for group in data["testGroups"]
        for test in group["tests"]
    ]


def cctv_cases() -> list[Ed25519Case]:
    data = json.loads((DIRECTORY / "cctv_ed25519vectors.json").read_text())
    cases = []
    for vector in data:
        flags = frozenset(vector["flags"] or ())
        cases.append(
            Ed25519Case(
                f"cctv {vector['number']}",
                bytes.fromhex(vector["key"]),
                vector["msg"].encode(),
                bytes.fromhex(vector["sig"]),
                portable_valid=not flags & PORTABLE_REJECTS,
                central_valid=not flags & CENTRAL_REJECTS,
                flags=tuple(sorted(flags)),
            )
        )
    return cases


def all_cases() -> list[Ed25519Case]:
    return rfc8032_cases() + wycheproof_cases() + cctv_cases()


def micropython_subset() -> list[Ed25519Case]:
    """What the MicroPython run checks (big-integer Ed25519 is slow there): every RFC 8032 test, and
    one vector per distinct Wycheproof flag set and per distinct CCTV flag set and non-canonical
    encoding (of A and of R) used."""
    chosen = rfc8032_cases()
    seen: set[tuple[object, ...]] = set()
    for case in wycheproof_cases() + cctv_cases():
        non_canonical_a = case.public_key if "non_canonical_A" in case.flags else b""
        non_canonical_r = case.signature[:32] if "non_canonical_R" in case.flags else b""
        kind = (case.name.split()[0], case.flags, non_canonical_a, non_canonical_r)
        if kind not in seen:
            seen.add(kind)
            chosen.append(case)
    return chosen
