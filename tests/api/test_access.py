"""Every /api/ endpoint × every role, driven by the access matrix in docs/rest.md (the documented truth).

Runs against a real uvicorn server so the SSE stream is exercised like any other endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from speedledger.central.auth import PERMISSIONS, Permission, Role
from tests.api.conftest import Tokens
from tests.api.server import serve

DOC = Path(__file__).resolve().parents[2] / "docs" / "rest.md"

#: Values for path parameters; the resources need not exist (an allowed role then gets 404 or 422).
PATH_VALUES = {
    "radar_id": "R-404",
    "section_id": "S-404",
    "key_id": "0123456789abcdef",
    "owner_id": "no-such-owner",
    "plate": "AB123CD",
    "infraction_id": "no-such-infraction",
}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    permission: Permission
    allowed: frozenset[Role]

    @property
    def url(self) -> str:
        return re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES[match.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def read_matrix() -> list[Row]:
    text = DOC.read_text()
    table = text.split("<!-- access-matrix:start -->")[1].split("<!-- access-matrix:end -->")[0]
    lines = [line.strip().strip("|").split("|") for line in table.strip().splitlines()]
    header = [cell.strip() for cell in lines[0]]
    rows = []
    for cells in lines[2:]:
        record = dict(zip(header, (cell.strip() for cell in cells), strict=True))
        rows.append(
            Row(
                method=record["method"],
                path=record["path"],
                permission=Permission(record["permission"]),
                allowed=frozenset(role for role in Role if record[role.value] == "yes"),
            )
        )
    return rows


MATRIX = read_matrix()


@pytest.fixture(scope="module")
def http(module_app: FastAPI) -> Iterator[httpx.Client]:
    with serve(module_app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def call(http: httpx.Client, row: Row, headers: dict[str, str]) -> httpx.Response:
    """The response head (an SSE stream is closed as soon as its headers arrive)."""
    with http.stream(row.method, row.url, headers=headers) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        response.read()
        return response


def declared_permissions(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """(method, path) -> the `x-permission` each /api/ operation declares in the OpenAPI document."""
    return {
        (method.upper(), path): operation.get("x-permission")
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
    }


def test_matrix_covers_every_api_route(module_app: FastAPI) -> None:
    assert set(declared_permissions(module_app)) == {(row.method, row.path) for row in MATRIX}


def test_matrix_matches_the_code(module_app: FastAPI) -> None:
    """The documented table, the route declarations and auth.roles.PERMISSIONS agree."""
    declared = declared_permissions(module_app)
    for row in MATRIX:
        assert declared[(row.method, row.path)] == row.permission.value, row
        assert row.allowed == {role for role in Role if row.permission in PERMISSIONS[role]}, row


@pytest.mark.parametrize("row", MATRIX, ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role(http: httpx.Client, tokens: Tokens, row: Row, role: Role) -> None:
    response = call(http, row, tokens.headers(role))
    if role in row.allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403
        assert response.json() == {"detail": f"role {role.value!r} lacks permission {row.permission.value!r}"}


@pytest.mark.parametrize("row", MATRIX, ids=str)
@pytest.mark.parametrize(
    "credentials",
    ["none", "not-bearer", "garbage", "expired", "other-secret", "empty-bearer"],
)
def test_without_a_valid_token(http: httpx.Client, tokens: Tokens, row: Row, credentials: str) -> None:
    headers = {
        "none": {},
        "not-bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": tokens.headers(Role.ADMIN, expired=True),
        "other-secret": tokens.headers(Role.ADMIN, foreign=True),
        "empty-bearer": {"Authorization": "Bearer"},
    }[credentials]
    response = call(http, row, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("row", [row for row in MATRIX if row.method in ("POST", "PATCH")], ids=str)
def test_auth_is_checked_before_the_body_is_read(http: httpx.Client, tokens: Tokens, row: Row) -> None:
    """Malformed JSON from a caller without a token, or with the wrong role, still gets 401/403, not 422."""
    denied = next(role for role in Role if role not in row.allowed)
    json_type = {"Content-Type": "application/json"}
    anonymous = http.request(row.method, row.url, content=b"{not json", headers=json_type)
    wrong_role = http.request(
        row.method, row.url, content=b"{not json", headers={**json_type, **tokens.headers(denied)}
    )
    assert anonymous.status_code == 401
    assert wrong_role.status_code == 403
