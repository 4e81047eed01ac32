"""Field types and error bodies shared by the routes: bounds keep every value storable (no overflow, no
500) and state in the OpenAPI document exactly what the server accepts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

#: CONTRACT §2.
RADAR_ID_PATTERN = r"^[A-Za-z0-9-]{1,32}$"
#: Free text: no control characters (PostgreSQL text cannot hold NUL; none belongs in a name or a reason).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
#: Free text with at least one visible character (names are stored without surrounding blanks).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
#: Printable ASCII that normalisation drops (CONTRACT §3): the separators a person types in a plate.
_PLATE_SEPARATOR = r"[ -/:-@\[-`{-~]"
#: A plate as typed: 1 to 12 letters or digits once normalised (`ab-123-cd`), ASCII only.
PLATE_PATTERN = rf"^{_PLATE_SEPARATOR}*(?:[A-Za-z0-9]{_PLATE_SEPARATOR}*){{1,12}}$"
#: What the registration domain accepts as an e-mail address (one @, a dot in the domain, no blanks).
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"


def _whole_number(value: object) -> object:
    """JSON Schema's `integer` includes `5.0`; strict bodies would refuse it, so it becomes 5 first."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: An `integer` as JSON Schema means it (no booleans, no strings), for the strict request bodies.
WholeNumber = BeforeValidator(_whole_number)
#: Unix time in milliseconds, UTC: stored in a signed 64-bit column, bounded to what every JSON client
#: reads exactly (2^53 - 1, the largest integer a double holds; some 285,000 years from now).
MAX_MILLIS = 2**53 - 1
Millis = Annotated[int, Field(ge=0, le=MAX_MILLIS), WholeNumber]
#: Standard base64 of a raw 32-byte key: 43 characters, the last of them with its 2 low bits zero, then `=`.
PUBLIC_KEY_PATTERN = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
#: An ISO calendar date, YYYY-MM-DD.
DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


class ErrorOut(BaseModel):
    """The body of every error response (404, 409, ...): `{"detail": "..."}`."""

    detail: str


class ValidationProblem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrorOut(BaseModel):
    """422: a sentence for a domain rule or a bad cursor, else one entry per invalid field."""

    detail: str | list[ValidationProblem]


#: Request bodies: unknown fields refused (catches misspelt names) and no type coercion (`true` is not
#: a number, `0` is not a date), so the server accepts exactly what the OpenAPI document describes.
STRICT_BODY = ConfigDict(extra="forbid", strict=True)
