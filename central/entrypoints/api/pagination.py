"""Opaque keyset cursors: URL-safe base64 of the JSON sort key of the last item on a page.

Keyset (not offset) pagination keeps pages stable while new rows arrive: the next page starts
strictly after the last key the client saw, whatever was inserted before it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from fastapi import HTTPException
from pydantic import BaseModel

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

SortKey = tuple[int | str, ...]
MAX_ROW_ID = 2**63 - 1


def _invalid_cursor() -> HTTPException:
    return HTTPException(status_code=422, detail="invalid cursor: pass back next_cursor exactly as received")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: Sequence[type]) -> SortKey:
    """The sort key in `cursor`, checked against `shape` (the type of each key part)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise _invalid_cursor() from exc
    if not isinstance(key, list) or len(key) != len(shape):
        raise _invalid_cursor()
    for part, expected in zip(key, shape, strict=True):
        # bool is an int subclass; a cursor never holds one. Integers are row ids: signed 64-bit, not negative.
        if not isinstance(part, expected) or isinstance(part, bool):
            raise _invalid_cursor()
        if isinstance(part, int) and not 0 <= part <= MAX_ROW_ID:
            raise _invalid_cursor()
    return tuple(key)


def paginate(rows: Sequence[T], limit: int, key: Callable[[T], SortKey]) -> Page[T]:
    """A page from up to `limit + 1` rows read in sort order (the extra row tells that more follow)."""
    items = list(rows[:limit])
    return Page[T](items=items, next_cursor=encode_cursor(key(items[-1])) if len(rows) > limit else None)
