"""Field types shared by the request schemas (bounds keep every value storable: no overflow, no 500)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

#: CONTRACT §2.
RADAR_ID_PATTERN = r"^[A-Za-z0-9-]{1,32}$"
#: Unix time in milliseconds, UTC, within a signed 64-bit column.
Millis = Annotated[int, Field(ge=0, le=2**63 - 1)]


class ErrorOut(BaseModel):
    """The body of every error response (404, 409, ...): `{"detail": "..."}`."""

    detail: str
