"""Canonical JSON bytes for signing (CONTRACT section 1).

Pure ASCII, keys sorted by code point, no whitespace, only strings, integers, objects and arrays.
Strings escape only `"`, `\\` and code points below 0x20 (as lowercase `\\u00xx`); non-ASCII text,
floats, booleans and null are rejected. Imports nothing that MicroPython lacks.
"""


class CanonicalError(ValueError):
    """The value cannot be encoded canonically."""


_HEX = "0123456789abcdef"


def _string(text: str, out: list[str]) -> None:
    out.append('"')
    start = 0
    for index, char in enumerate(text):
        code = ord(char)
        if code >= 0x80:
            raise CanonicalError("non-ASCII text is not canonical")
        if code < 0x20 or char == '"' or char == "\\":
            out.append(text[start:index])
            if code < 0x20:
                out.append("\\u00" + _HEX[code >> 4] + _HEX[code & 15])
            else:
                out.append("\\" + char)
            start = index + 1
    out.append(text[start:])
    out.append('"')


def _value(obj: object, out: list[str]) -> None:
    # bool is a subclass of int on CPython and MicroPython: test it first.
    if obj is True or obj is False or obj is None:
        raise CanonicalError("booleans and null are not canonical")
    if isinstance(obj, str):
        _string(obj, out)
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, dict):
        out.append("{")
        first = True
        for key in sorted(obj):
            if not isinstance(key, str):
                raise CanonicalError("object keys must be strings")
            if not first:
                out.append(",")
            first = False
            _string(key, out)
            out.append(":")
            _value(obj[key], out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for index, item in enumerate(obj):
            if index:
                out.append(",")
            _value(item, out)
        out.append("]")
    else:
        raise CanonicalError(f"type {type(obj).__name__} is not canonical")


def dumps(obj: object) -> bytes:
    """Encode `obj` as canonical JSON bytes; raise CanonicalError for anything outside the contract."""
    out: list[str] = []
    _value(obj, out)
    return "".join(out).encode()


def signing_bytes(message: dict) -> bytes:
    """The bytes a signature covers: the canonical message without its `sig` field."""
    return dumps({key: value for key, value in message.items() if key != "sig"})
