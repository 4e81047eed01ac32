"""Canonical JSON (CONTRACT section 1) through CPython's C JSON encoder: `canonical.dumps`, byte for byte.

`shared/canonical.py` is the contract's encoder and stays pure Python so a board runs it; it walks
every character in Python (about a quarter of a millisecond for a violation). Central encodes each
violation and ack on its commit thread, so on CPython it uses this module instead (never copied to a
board: speedledger/layout.py).

The C encoder is used only for what it provably encodes the same way: exact `str`, `int`, `dict`
with `str` keys, `list` and `tuple`, every string printable ASCII. With `sort_keys`, no whitespace
and `ensure_ascii=False`, it sorts keys by code point, writes an int as `int.__repr__` (= `str`),
a list or tuple as an array, and escapes only `"` and `\\` in printable ASCII, as `canonical` does.
Anything else (control characters, non-ASCII text, booleans, null, floats, subclasses, an integer
too long to print, nesting too deep) goes to `canonical.dumps`, which encodes it or raises
`CanonicalError` as the contract says. tests/unit/test_fast_canonical.py holds the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from speedledger.shared import canonical
from speedledger.shared.canonical import CanonicalError

__all__ = ["CanonicalError", "dumps", "signing_bytes"]

_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _plain(obj: object) -> bool:
    """Whether `obj` holds only what the C encoder writes exactly as `canonical` does (module docstring).
    An object's values are checked inline: this walk runs for every message central encodes."""
    if type(obj) is dict:
        for key, value in obj.items():
            if type(key) is not str or not (key.isascii() and key.isprintable()):
                return False
            if type(value) is str:
                if not (value.isascii() and value.isprintable()):
                    return False
            elif type(value) is not int and not _plain(value):
                return False
        return True
    if type(obj) is list or type(obj) is tuple:
        return all(_plain(item) for item in obj)  # arrays are rare in what central encodes
    if type(obj) is str:
        return obj.isascii() and obj.isprintable()
    return type(obj) is int


def dumps(obj: object) -> bytes:
    """`canonical.dumps(obj)`: the same bytes, or the same CanonicalError."""
    try:
        if _plain(obj):
            return _encode(obj).encode()
    except (ValueError, RecursionError):  # an int too long to print, or nesting too deep: as canonical says
        pass
    return canonical.dumps(obj)


def signing_bytes(message: Mapping[str, Any]) -> bytes:
    """`canonical.signing_bytes(message)`: the canonical message without its `sig` field."""
    return dumps({key: value for key, value in message.items() if key != "sig"})
