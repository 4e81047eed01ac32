"""Radar keys that would let anyone forge violations are refused with a 422, at registration and rotation."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, radar_body
from tests.ed25519_vectors import cctv_cases

#: Every small-order point ([8]A = identity) and every non-canonical encoding CCTV uses as a key.
BAD_KEYS = sorted({case.public_key for case in cctv_cases() if {"low_order_A", "non_canonical_A"} & set(case.flags)})
IDENTITY = bytes.fromhex("01" + "00" * 31)


def test_the_list_holds_the_eight_small_order_points_and_six_other_encodings() -> None:
    assert len(BAD_KEYS) == 14 and IDENTITY in BAD_KEYS


def test_a_small_order_key_verifies_a_forgery_so_it_must_never_be_registered() -> None:
    """Why the check exists: R = identity, S = 0 verifies any message under the identity key."""
    Ed25519PublicKey.from_public_bytes(IDENTITY).verify(IDENTITY + bytes(32), b'{"plate":"AB123CD"}')


@pytest.fixture(scope="module")
def client(module_app: FastAPI) -> TestClient:
    return TestClient(module_app)


@pytest.mark.parametrize("raw", BAD_KEYS, ids=[key.hex() for key in BAD_KEYS])
def test_registration_refuses_the_key(client: TestClient, tokens: Tokens, raw: bytes) -> None:
    radar_id = f"KH-{raw.hex()[:6]}-{raw.hex()[-4:]}"
    body = {**radar_body(radar_id, RadarKey()), "public_key": base64.b64encode(raw).decode()}
    response = client.post("/api/v1/radars", json=body, headers=tokens.headers(Role.ADMIN))
    assert response.status_code == 422, response.text
    assert "public_key" in response.json()["detail"]
    assert client.get(f"/api/v1/radars/{radar_id}", headers=tokens.headers(Role.ADMIN)).status_code == 404


@pytest.mark.parametrize("raw", BAD_KEYS, ids=[key.hex() for key in BAD_KEYS])
def test_rotation_refuses_the_key(client: TestClient, tokens: Tokens, raw: bytes) -> None:
    radar_id = f"KR-{raw.hex()[:6]}-{raw.hex()[-4:]}"
    created = client.post("/api/v1/radars", json=radar_body(radar_id, RadarKey()), headers=tokens.headers(Role.ADMIN))
    assert created.status_code == 201, created.text
    response = client.post(
        f"/api/v1/radars/{radar_id}/keys",
        json={"public_key": base64.b64encode(raw).decode()},
        headers=tokens.headers(Role.OPERATOR),
    )
    assert response.status_code == 422, response.text
    assert "public_key" in response.json()["detail"]
    radar = client.get(f"/api/v1/radars/{radar_id}", headers=tokens.headers(Role.ADMIN)).json()
    assert len(radar["keys"]) == 1


def test_non_canonical_base64_of_a_good_key_is_refused(client: TestClient, tokens: Tokens) -> None:
    """The last character of a 32-byte key carries 2 unused bits: `...=` with them set is not canonical."""
    key = RadarKey()
    canonical = key.public_b64
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = canonical[-2]
    non_canonical = canonical[:-2] + alphabet[alphabet.index(last) ^ 1] + "="
    assert non_canonical != canonical and base64.b64decode(non_canonical) == key.public_raw
    body = {**radar_body("KH-B64", key), "public_key": non_canonical}
    response = client.post("/api/v1/radars", json=body, headers=tokens.headers(Role.ADMIN))
    assert response.status_code == 422, response.text
    assert (
        client.post("/api/v1/radars", json=radar_body("KH-B64", key), headers=tokens.headers(Role.ADMIN)).status_code
        == 201
    )
