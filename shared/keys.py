"""Key ids and base64 for Ed25519 public keys (CONTRACT section 1). MicroPython-safe."""

import binascii
import hashlib


def key_id(public_key_raw: bytes) -> str:
    """First 16 lowercase hex characters of SHA-256 of the raw 32-byte public key."""
    return binascii.hexlify(hashlib.sha256(public_key_raw).digest()).decode()[:16]


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, no newline."""
    return binascii.b2a_base64(data).decode().strip()


def b64decode(text: str) -> bytes:
    """Decode canonical standard base64 (padded, no whitespace, unused bits zero); ValueError otherwise.

    One value, one spelling: `...AB==` decodes like `...AA==` in lenient decoders, so a key or a
    signature could travel in several forms; only what `b64encode` gives back is accepted.
    """
    try:
        # bytes, not str: some MicroPython ports (the pure-Python binascii) only take bytes.
        data = binascii.a2b_base64(text.encode())
    except Exception as error:
        raise ValueError("invalid base64") from error
    if b64encode(data) != text:
        raise ValueError("non-canonical base64")
    return data
