"""Test-session wiring shared by every suite.

External dependencies (PostgreSQL, mosquitto, node, tesseract) are started or located by fixture
plugins under tests/fixtures/. Where one is missing the test is skipped on a developer machine and
fails under CI=true, so CI can never pass by skipping.
"""

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

VECTORS_PATH = Path(__file__).parent / "vectors" / "contract-vectors.json"

pytest_plugins: list[str] = ["tests.fixtures.mosquitto", "tests.fixtures.postgres"]


def missing_dependency(what: str) -> NoReturn:
    """Skip locally, fail under CI: a missing dependency must never turn CI green."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required test dependency missing under CI: {what}", pytrace=False)
    pytest.skip(f"missing dependency: {what}")


@pytest.fixture(scope="session")
def contract_vectors() -> dict[str, Any]:
    """CONTRACT.md test vectors, copied into the project (tests never read ../shared)."""
    vectors: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
    return vectors
