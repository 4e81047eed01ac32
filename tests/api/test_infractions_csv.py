"""`GET /api/v1/infractions` with `Accept: text/csv`: the same filtered rows, streamed in bounded memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api import create_app
from speedledger.central.infractions.csv_export import COLUMNS
from speedledger.central.infractions.projection import infractions
from tests.api.conftest import Tokens, make_central
from tests.api.server import serve
from tests.api.test_infractions import Scene

LIST = "/api/v1/infractions"
CSV = {"Accept": "text/csv"}
ROWS = 100_000
T0 = 1_764_316_800_000


def test_csv_has_the_rows_and_fields_of_the_json_list(scene_csv: tuple[Scene, TestClient, Tokens]) -> None:
    scene, client, tokens = scene_csv
    scene.record("RA")
    scene.record("RB")
    scene.record("RA", plate="ZZ999ZZ")
    headers = {**tokens.headers(Role.AGENCY), **CSV}
    response = client.get(LIST, params={"radar_id": "RA"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = client.get(LIST, params={"radar_id": "RA"}, headers=tokens.headers(Role.AGENCY)).json()["items"]
    assert [row["infraction_id"] for row in rows] == [item["infraction_id"] for item in expected]
    assert rows[0]["measured_speed_kmh"] == str(expected[0]["measured_speed_kmh"])
    assert {row["status"] for row in rows} == {"issued", "unidentified"}
    assert next(row for row in rows if row["status"] == "unidentified")["owner_id"] == ""
    assert client.get(LIST, headers={**tokens.headers(Role.OPERATOR), **CSV}).status_code == 403


@pytest.fixture
def scene_csv(client: TestClient, tokens: Tokens, central: Central) -> tuple[Scene, TestClient, Tokens]:
    return Scene(client, tokens, central), client, tokens


def fill(central: Central, count: int) -> None:
    """`count` infraction rows straight into the read model (the projection's output), one per second."""
    template = {
        "radar_id": "R1",
        "seq": 1,
        "plate": "AB123CD",
        "owner_id": str(uuid.uuid4()),
        "status": "issued",
        "unidentified_reason": None,
        "direction": "approaching",
        "measured_speed_ckmh": 13150,
        "retained_speed_kmh": 124,
        "speed_limit_kmh": 90,
        "device_speed_limit_kmh": 90,
        "limit_mismatch": False,
        "excess_kmh": 34,
        "fine_eur": 135,
        "points": 3,
        "fine_schedule": "fr-2024",
        "image_sha256": "a" * 64,
        "plate_confidence_pm": 950,
        "issued_at_ms": T0,
        "updated_at_ms": T0,
    }
    with central.engine.begin() as conn:
        for start in range(0, count, 10_000):
            conn.execute(
                infractions.insert(),
                [
                    {
                        **template,
                        "infraction_id": str(uuid.UUID(int=index)),
                        "event_id": str(uuid.UUID(int=index + (1 << 64))),
                        "seq": index + 1,
                        "detected_at_ms": T0 + index * 1000,
                    }
                    for index in range(start, min(start + 10_000, count))
                ],
            )


def peak_while_streaming(url: str, headers: dict[str, str], params: dict[str, int]) -> tuple[int, int, int]:
    """(lines, bytes, peak traced memory) of one CSV download, reading and dropping chunks as they come."""
    lines = size = 0
    tracemalloc.start()
    try:
        with httpx.stream("GET", url + LIST, headers=headers, params=params, timeout=120) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
                size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, size, peak


def test_csv_of_100000_infractions_streams_in_bounded_memory(tmp_path: Path, tokens: Tokens) -> None:
    central = make_central(tmp_path)
    try:
        fill(central, ROWS)
        headers = {**tokens.headers(Role.AGENCY), **CSV}
        with serve(create_app(central)) as url:
            tenth = peak_while_streaming(url, headers, {"from_ms": T0 + (ROWS - ROWS // 10) * 1000})
            whole = peak_while_streaming(url, headers, {})
    finally:
        central.close()
    assert (tenth[0], whole[0]) == (ROWS // 10 + 1, ROWS + 1)  # with the header line
    assert whole[1] > 9 * tenth[1]
    print(f"CSV {whole[1] / 1e6:.1f} MB: peak traced {whole[2] / 1e6:.2f} MB, for a tenth {tenth[2] / 1e6:.2f} MB")
    # Ten times the rows must not take ten times the memory: one page at a time, whatever the total.
    assert whole[2] < 2 * tenth[2]
    assert whole[2] < whole[1] / 4
    assert len(COLUMNS) == len(set(COLUMNS))
