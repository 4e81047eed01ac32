"""Read the radar key file on a device without a crypto library. MicroPython-safe.

`speedledger keys generate` writes an unencrypted PEM PKCS#8 Ed25519 key (RFC 8410): base64 of a
48-byte DER structure whose last 32 bytes are the secret seed. This reads exactly that, so the board
and the Linux agent use the same file.
"""

import binascii

# SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32 bytes) } }
_PKCS8_ED25519_PREFIX = b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20"
_BEGIN = "-----BEGIN PRIVATE KEY-----"
_END = "-----END PRIVATE KEY-----"


def seed_from_pem(text: str) -> bytes:
    """The 32-byte Ed25519 seed of an unencrypted PEM PKCS#8 key; ValueError for anything else."""
    start = text.find(_BEGIN)
    end = text.find(_END)
    if start < 0 or end < start:
        raise ValueError("not a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----)")
    body = "".join(text[start + len(_BEGIN) : end].split())
    try:
        der = binascii.a2b_base64(body.encode())
    except Exception:
        raise ValueError("PEM body is not base64") from None
    if len(der) != 48 or der[:16] != _PKCS8_ED25519_PREFIX:
        raise ValueError("not an Ed25519 PKCS#8 key without public key or attributes")
    return der[16:]
