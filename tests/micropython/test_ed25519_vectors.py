"""The portable Ed25519 verifier on the real MicroPython interpreter, against the external vectors.

Big-integer Ed25519 is slow there, so this runs `micropython_subset()`: every RFC 8032 section 7.1
test and one vector per distinct Wycheproof or CCTV flag set (tests/unit/test_ed25519_vectors.py
runs all of them on CPython).
"""

from pathlib import Path

import pytest

from tests.ed25519_vectors import micropython_subset
from tests.micropython.test_portable_core import run_on_micropython

pytestmark = pytest.mark.micropython


def test_vectors_on_micropython(tmp_path: Path) -> None:
    cases = micropython_subset()
    given = {"cases": [[case.public_key.hex(), case.message.hex(), case.signature.hex()] for case in cases]}
    answers = run_on_micropython(tmp_path, given, "ed25519_vectors_check.py")
    wrong = [case.name for case, answer in zip(cases, answers, strict=True) if answer is not case.portable_valid]
    assert wrong == []
