"""Crypto-shredding of owner personal data.

Each owner gets a random 256-bit data key kept in a `KeyVault` outside the event log. Events carry
only `seal(...)`'s AES-GCM envelope (the owner_id is the associated data, so an envelope cannot be
moved to another owner). Erasure deletes the key: every copy of the envelope, in the event log and in
its backups, becomes unreadable for ever, while the events themselves stay immutable.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ENVELOPE_VERSION = "v1"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class PersonalData:
    name: str
    birth_date: str
    email: str


class KeyVault(Protocol):
    """Per-subject data keys, stored outside the event log so that they can really be deleted."""

    def get_or_create_key(self, subject_id: str) -> bytes:
        """The subject's 32-byte key, created on first use."""
        ...

    def get_key(self, subject_id: str) -> bytes | None:
        """The subject's key, or None when it never existed or was deleted."""
        ...

    def delete_key(self, subject_id: str) -> None:
        """Forget the key for ever (idempotent)."""
        ...

    def subjects(self, prefix: str) -> list[str]:
        """The subjects whose key exists and whose id starts with `prefix`, sorted."""
        ...


class InMemoryKeyVault:
    """A vault for unit tests."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    def get_or_create_key(self, subject_id: str) -> bytes:
        return self._keys.setdefault(subject_id, AESGCM.generate_key(bit_length=256))

    def get_key(self, subject_id: str) -> bytes | None:
        return self._keys.get(subject_id)

    def delete_key(self, subject_id: str) -> None:
        self._keys.pop(subject_id, None)

    def subjects(self, prefix: str) -> list[str]:
        return sorted(subject for subject in self._keys if subject.startswith(prefix))


def seal_bytes(key: bytes, plaintext: bytes, associated: str) -> str:
    """The AES-GCM envelope of `plaintext` under `key`, bound to `associated` (it opens only with it), as
    text for events and JSON (`seal_raw` in base64, with a version)."""
    return f"{_ENVELOPE_VERSION}.{base64.b64encode(seal_raw(key, plaintext, associated)).decode()}"


def open_bytes(key: bytes, envelope: str, associated: str) -> bytes:
    """What `seal_bytes` sealed; ValueError for an unknown envelope, InvalidTag for another key or subject."""
    version, _, payload = envelope.partition(".")
    if version != _ENVELOPE_VERSION:
        raise ValueError(f"unknown envelope version {version!r}")
    return open_raw(key, base64.b64decode(payload), associated)


def seal_raw(key: bytes, plaintext: bytes, associated: str) -> bytes:
    """The envelope's bytes (nonce, then ciphertext and tag), for a binary column: large images are spared
    the base64 of the text form."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated.encode())


def open_raw(key: bytes, raw: bytes, associated: str) -> bytes:
    """What `seal_raw` sealed; InvalidTag for another key or subject."""
    return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated.encode())


class PersonalDataCipher:
    def __init__(self, vault: KeyVault) -> None:
        self._vault = vault

    def seal(self, owner_id: str, data: PersonalData) -> str:
        key = self._vault.get_or_create_key(owner_id)
        return seal_bytes(key, json.dumps(asdict(data), sort_keys=True).encode(), owner_id)

    def open(self, owner_id: str, envelope: str | None) -> PersonalData | None:
        """The personal data, or None once erased: the owner's key is deleted (or, in a read model,
        the envelope already dropped)."""
        if envelope is None:
            return None
        key = self._vault.get_key(owner_id)
        if key is None:
            return None
        try:
            plaintext = open_bytes(key, envelope, owner_id)
        except InvalidTag as error:
            raise ValueError(f"personal data of owner {owner_id} does not open with its key") from error
        return PersonalData(**json.loads(plaintext))
