"""The agency's CSV export: the rows of `list_infractions` for the given filters, streamed page by page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine

from speedledger.central.infractions.queries import InfractionView
from speedledger.central.infractions.streaming import infraction_pages

#: One column per field of an infraction in the JSON list, in the same order.
COLUMNS = tuple(InfractionView.model_fields)


def csv_chunks(engine: Engine, **filters: Any) -> Iterator[str]:
    """The header line, then one chunk of CSV lines per page, newest infraction first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for page in infraction_pages(engine, **filters):
        writer.writerows([_cell(getattr(item, column)) for column in COLUMNS] for item in page)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _cell(value: object) -> object:
    """Booleans as 1/0 and None as an empty cell, as spreadsheets and databases import them."""
    if isinstance(value, bool):
        return int(value)
    return "" if value is None else value
