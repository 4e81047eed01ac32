"""Field types and error bodies shared by the routes: bounds keep every value storable (no overflow, no
500) and state in the OpenAPI document exactly what the server accepts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

#: CONTRACT §2.
RADAR_ID_PATTERN = r"^[A-Za-z0-9-]{1,32}$"
#: Free text: no control characters (PostgreSQL text cannot hold NUL; none belongs in a name or a reason).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
#: Free text with at least one visible character (names are stored without surrounding blanks).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
#: A plate as typed by a person: it must keep at least one letter or digit once normalised (CONTRACT §3).
PLATE_QUERY_PATTERN = r"^[^\x00-\x1f\x7f]*[A-Za-z0-9][^\x00-\x1f\x7f]*$"
#: What the registration domain accepts as an e-mail address (one @, a dot in the domain, no blanks).
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
#: Unix time in milliseconds, UTC, within a signed 64-bit column.
Millis = Annotated[int, Field(ge=0, le=2**63 - 1)]


class ErrorOut(BaseModel):
    """The body of every error response (404, 409, ...): `{"detail": "..."}`."""

    detail: str


class ValidationProblem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrorBody(BaseModel):
    """422: a sentence for a domain rule or a bad cursor, else one entry per invalid field."""

    detail: str | list[ValidationProblem]
