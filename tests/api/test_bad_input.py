"""Never a 500 for bad input: hostile path values, bodies and query strings on every endpoint."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from tests.api.conftest import Tokens
from tests.api.test_access import MATRIX, PATH_VALUES, Row

#: The SSE stream never ends on its own; its inputs are covered by test_events.py on a real server.
ROWS = [row for row in MATRIX if not row.path.endswith("/stream")]

HOSTILE_PATH_VALUES = [
    "x" * 5000,
    "%00",
    "%FF%FE",
    "é-ü",
    "..%2F..%2Fetc%2Fpasswd",
    "' OR 1=1 --",
    "%20",
    "99999999999999999999999999",
    "-1",
]

HOSTILE_BODIES = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b"1e999",
    b'{"a":',
    b"\xff\xfe\x00",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"speed_limit_kmh": 1e308, "latitude": "NaN", "effective_at_ms": 123456789012345678901234567890}',
    b'{"reason": "' + b"x" * 100_000 + b'"}',
]

HOSTILE_QUERIES = [
    {"limit": "-1"},
    {"limit": "1e9"},
    {"limit": "99999999999999999999999"},
    {"cursor": "=" * 10},
    {"cursor": "eyJ9"},
    {"after": "99999999999999999999999"},
    {"from_ms": "NaN"},
    {"include_payload": "maybe"},
    {"status": "\x00"},
    {"plate": "\u202e"},
]


@pytest.fixture(scope="module")
def raw_client(module_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(module_app, raise_server_exceptions=False) as client:
        yield client


def url_with(row: Row, value: str) -> str:
    return re.sub(r"\{(\w+)\}", value, row.path) if "{" in row.path else row.path


def assert_clean_4xx(response_status: int, body: object, what: str) -> None:
    assert 400 <= response_status < 500 or response_status in (200, 201), what
    if response_status >= 400:
        assert isinstance(body, dict) and "detail" in body, what


@pytest.mark.parametrize("row", [row for row in ROWS if "{" in row.path], ids=str)
def test_hostile_path_values(raw_client: TestClient, tokens: Tokens, row: Row) -> None:
    for value in HOSTILE_PATH_VALUES:
        response = raw_client.request(row.method, url_with(row, value), headers=tokens.headers(Role.ADMIN))
        assert response.status_code < 500, (value, response.text)
        if response.status_code >= 400:
            assert "detail" in response.json(), value


@pytest.mark.parametrize("row", [row for row in ROWS if row.method in ("POST", "PATCH")], ids=str)
def test_hostile_bodies(raw_client: TestClient, tokens: Tokens, row: Row) -> None:
    url = re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES[match.group(1)], row.path)
    headers = tokens.headers(Role.ADMIN) | {"Content-Type": "application/json"}
    for body in HOSTILE_BODIES:
        response = raw_client.request(row.method, url, content=body, headers=headers)
        assert response.status_code < 500, (body[:40], response.text[:300])
        if response.status_code >= 400:
            assert "detail" in response.json(), body[:40]


@pytest.mark.parametrize("row", [row for row in ROWS if row.method == "GET"], ids=str)
def test_hostile_queries(raw_client: TestClient, tokens: Tokens, row: Row) -> None:
    url = re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES[match.group(1)], row.path)
    for params in HOSTILE_QUERIES:
        response = raw_client.get(url, params=params, headers=tokens.headers(Role.ADMIN))
        assert response.status_code < 500, (params, response.text[:300])
