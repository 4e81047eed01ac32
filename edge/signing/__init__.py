"""Adapters of the `Signer` port (`speedledger.edge.core.ports`), key files and verification.

`Signer` is what the agent needs from a key: its raw public key, its `key_id` and `sign(bytes)`.
On CPython the key lives in `cryptography`'s Ed25519 implementation (`CryptographySigner`, loaded
from the PEM PKCS#8 file that `speedledger keys generate` writes); on MicroPython the pure-Python
`speedledger.edge.core.ed25519.Ed25519Signer` implements the same port.
"""

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from speedledger.shared import keys


class KeyFileError(ValueError):
    """The key file cannot be used; the message says why."""


class CryptographySigner:
    """Ed25519 via `cryptography` (OpenSSL): constant-time and fast."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = keys.key_id(self.public_key)

    @classmethod
    def from_seed(cls, seed: bytes) -> "CryptographySigner":
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


def load_signer(path: Path) -> CryptographySigner:
    """Load an unencrypted Ed25519 private key, PEM PKCS#8 (`-----BEGIN PRIVATE KEY-----`)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read key file {path}: {error.strerror}") from None
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path} is not an unencrypted PEM PKCS#8 private key: {error}") from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(private_key).__name__}, not an Ed25519 key")
    return CryptographySigner(private_key)


def load_public_key(text: str) -> bytes:
    """A raw 32-byte Ed25519 public key from base64 (the contract's form), a PEM string, or a file of either."""
    candidate = Path(text)
    if candidate.is_file():
        text = candidate.read_text()
    text = text.strip()
    if text.startswith("-----BEGIN"):
        public_key = serialization.load_pem_public_key(text.encode())
        if not isinstance(public_key, Ed25519PublicKey):
            raise KeyFileError("not an Ed25519 public key")
        return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = keys.b64decode(text)
    if len(raw) != 32:
        raise KeyFileError("an Ed25519 public key is 32 bytes (base64 of the raw key)")
    return raw


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification with the same signature as `speedledger.edge.core.ed25519.verify`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
