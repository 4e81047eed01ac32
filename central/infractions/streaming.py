"""Every infraction matching `list_infractions` filters, one page at a time (CSV export, notice batches).

Each page is a fresh keyset query of at most `MAX_PAGE` rows on its own connection: memory stays bounded
by one page whatever the number of rows, and no read transaction stays open while a slow consumer works.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine

from speedledger.central.infractions.queries import MAX_PAGE, InfractionView, list_infractions


def infraction_pages(engine: Engine, **filters: Any) -> Iterator[list[InfractionView]]:
    """Pages of infractions, newest first; `filters` as `list_infractions` takes them (no limit or cursor)."""
    cursor: str | None = None
    while True:
        with engine.connect() as conn:
            page = list_infractions(conn, **filters, limit=MAX_PAGE, cursor=cursor)
        yield page.items
        cursor = page.next_cursor
        if cursor is None:
            return
