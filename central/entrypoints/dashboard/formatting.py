"""How values read on the pages: times in the agency's zone, speeds in km/h, money in euros."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo


def kmh(speed: float | int) -> str:
    """`104.32 km/h`, `99 km/h`: two decimals only where the value has them."""
    text = f"{speed:.2f}".rstrip("0").rstrip(".") if isinstance(speed, float) else str(speed)
    return f"{text} km/h"


def day_start_ms(day: str, zone: ZoneInfo) -> int:
    """Unix ms at 00:00 in the agency's zone on `day` (YYYY-MM-DD); ValueError for anything else."""
    date = datetime.date.fromisoformat(day)
    return int(datetime.datetime.combine(date, datetime.time(), tzinfo=zone).timestamp() * 1000)


def next_day_start_ms(day: str, zone: ZoneInfo) -> int:
    """Unix ms at the end of `day` in the agency's zone (the next day's 00:00): an inclusive end date."""
    following = datetime.date.fromisoformat(day) + datetime.timedelta(days=1)
    return day_start_ms(following.isoformat(), zone)
