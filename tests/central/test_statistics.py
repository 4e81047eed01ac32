"""SQLite's query planner statistics: with them, a list filtered by owner uses the owner's index
whatever other filter comes with it (without them, `kind=spot` walked the whole kind index)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.infractions.projection import infractions
from speedledger.central.infractions.queries import list_infractions
from speedledger.central.projections.statistics import StatisticsRefresher, refresh_statistics

OWNERS = 500


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    central = bootstrap(Settings(db_url=f"sqlite:///{tmp_path}/central.db", secret="s" * 40), read_your_writes=False)
    rows = [_row(number) for number in range(OWNERS * 4)]
    with central.engine.begin() as conn:
        conn.execute(infractions.insert(), rows)
    yield central
    central.close()


def _row(number: int) -> dict[str, Any]:
    """An infractions row: four per owner, ten radars, every one a spot infraction, one in 25 contested."""
    return dict(
        infraction_id=f"inf-{number}", event_id=f"ev-{number}", radar_id=f"R{number % 10}", seq=number,
        plate=f"PL{number % OWNERS:05d}", owner_id=f"owner-{number % OWNERS}",
        status="contested" if number % 25 == 0 else "issued",
        detected_at_ms=1_764_316_800_000 + number, direction="approaching", measured_speed_ckmh=11_000,
        retained_speed_kmh=105, speed_limit_kmh=90, device_speed_limit_kmh=90, limit_mismatch=False,
        excess_kmh=15, fine_eur=135, points=1, fine_schedule="test", image_sha256="0" * 64,
        plate_confidence_pm=950, issued_at_ms=1_764_316_800_000, updated_at_ms=1_764_316_800_000, kind="spot",
    )  # fmt: skip


def _plan(central: Central, **filters: Any) -> str:
    """SQLite's plan for `list_infractions(**filters)`, with the rows it returns checked."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        statements.append((statement, parameters))

    with central.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", capture)
        page = list_infractions(conn, **filters)
        event.remove(conn, "before_cursor_execute", capture)
        statement, parameters = statements[-1]
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
    assert page.items and all(getattr(item, key) == value for item in page.items for key, value in filters.items())
    return " ".join(str(step[3]) for step in plan)


def test_with_statistics_an_owner_filter_uses_the_owner_index(central: Central) -> None:
    # The premise: without statistics SQLite walks the kind index, every row of the table.
    assert "ix_infractions_kind" in _plan(central, owner_id="owner-7", kind="spot")
    assert refresh_statistics(central.store)
    for other in ({"kind": "spot"}, {"status": "issued"}, {"radar_id": "R7"}):
        assert "ix_infractions_owner" in _plan(central, owner_id="owner-7", **other)


def test_a_radar_and_a_status_read_their_own_index(central: Central) -> None:
    """A radar's contested infractions are a range of ix_infractions_radar_status, not the radar's every row."""
    assert refresh_statistics(central.store)
    assert "ix_infractions_radar_status (radar_id=? AND status=?)" in _plan(central, radar_id="R5", status="contested")


def test_the_refresher_analyses_at_start_and_stops(central: Central) -> None:
    refresher = StatisticsRefresher(central.store, interval=3600)
    refresher.start()
    deadline = time.monotonic() + 10
    while not _analysed(central) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _analysed(central)
    started = time.monotonic()
    refresher.stop()
    assert time.monotonic() - started < 5  # woken, not left sleeping out its hour


def _analysed(central: Central) -> bool:
    with central.engine.connect() as conn:  # a fresh snapshot each time
        if not conn.execute(text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")).all():
            return False
        return bool(conn.execute(text("SELECT 1 FROM sqlite_stat1 WHERE idx = 'ix_infractions_owner'")).all())
