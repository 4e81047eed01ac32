"""Times as the agency reads them: in its zone (SPEEDLEDGER_TIMEZONE), on the dashboard and the notices alike."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo


def local_time(ms: int | None, zone: ZoneInfo) -> str:
    """`2026-12-02 10:39:13 CET` for a Unix time in ms; an em dash for None."""
    if ms is None:
        return "—"
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")
