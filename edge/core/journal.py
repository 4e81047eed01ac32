"""The on-device journal: signed events and their evidence kept until central acknowledges them.

MicroPython-safe (binascii, json, os, struct only). One append-only file, `journal.log`, of records

    length  u32 little-endian   size of `body`
    body    `length` bytes       kind byte + payload
    crc     u32 little-endian   CRC-32 of length and body

with three kinds of body:

    b"E" + u64 seq + u8 id length + event_id          a signed violation: the exact bytes published
        + u32 message length + message + evidence     and its JPEG (may be empty)
    b"A" + event_id + b" " + result                   central's ack for that event
    b"S" + decimal seq                                seq high-water mark, written by compaction

Every append is flushed and fsync'ed before `append`/`ack` return. A power cut can only leave the
last record short or garbled; the scan on open stops trusting bytes at the first record that is
incomplete or fails its CRC, keeps a copy of damaged bytes beside the journal, and rewrites the file
without them. Older records are never written again, so they cannot be corrupted by a cut.
Compaction (dropping acknowledged events) writes `journal.new` and renames it over `journal.log`.
`seq` is the highest seq ever journaled (events or the S mark), so it survives reboots and compaction.
"""

import binascii
import os
import struct

LOG_NAME = "journal.log"
NEW_NAME = "journal.new"
#: A record longer than this is a damaged length field, not data (evidence JPEGs are far smaller).
MAX_RECORD_BYTES = 8 * 1024 * 1024
_CHUNK = 4096
_EVENT = 0x45  # "E"
_ACK = 0x41  # "A"
_SEQ_MARK = 0x53  # "S"
# Kind, seq, id length, the longest event_id and the message length: enough to index an event record.
_MAX_EVENT_HEAD = 1 + 8 + 1 + 255 + 4


class JournalError(Exception):
    """The journal cannot be used (for example a record is too large)."""


class PendingEvent:
    """An event still waiting for its ack; payload and evidence stay on disk until asked for."""

    def __init__(
        self, event_id: str, seq: int, offset: int, header_length: int, payload_length: int, evidence_length: int
    ) -> None:
        self.event_id = event_id
        self.seq = seq
        #: Offset of the whole record in journal.log, and how many of its bytes precede the message.
        self.offset = offset
        self.header_length = header_length
        self.payload_length = payload_length
        self.evidence_length = evidence_length

    @property
    def record_length(self) -> int:
        return self.header_length + self.payload_length + self.evidence_length + 4

    @property
    def payload_offset(self) -> int:
        return self.offset + self.header_length

    def moved_to(self, offset: int) -> "PendingEvent":
        return PendingEvent(
            self.event_id, self.seq, offset, self.header_length, self.payload_length, self.evidence_length
        )


class Damage:
    """Bytes the scan refused: `reason` is "torn" (record cut short), "crc" (content changed)
    or "invalid" (intact but not understood, e.g. written by a newer format)."""

    def __init__(self, offset: int, length: int, reason: str, saved_as: str) -> None:
        self.offset = offset
        self.length = length
        self.reason = reason
        self.saved_as = saved_as

    def __repr__(self) -> str:
        return "Damage(" + str(self.offset) + ", " + str(self.length) + ", " + self.reason + ")"


def _exists(path: str) -> bool:
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _file_size(path: str) -> int:
    return os.stat(path)[6]


def _make_durable(handle: object) -> None:
    """Flush Python's buffer and the OS cache: fsync on CPython, os.sync on MicroPython ports."""
    handle.flush()  # type: ignore[attr-defined]
    fsync = getattr(os, "fsync", None)
    if fsync is not None:
        fsync(handle.fileno())  # type: ignore[attr-defined]
        return
    sync = getattr(os, "sync", None)
    if sync is not None:
        sync()


def sync_directory(directory: str) -> None:
    """Make a rename durable where the OS needs it (POSIX); a no-op on MicroPython."""
    flags = getattr(os, "O_RDONLY", None)
    if flags is None or not hasattr(os, "fsync"):
        return
    fd = os.open(directory, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(path: str, data: bytes) -> None:
    """Write `data` to a temporary file, make it durable and rename it over `path` (never half a file)."""
    temporary = path + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
        _make_durable(handle)
    os.rename(temporary, path)
    sync_directory(path.rsplit("/", 1)[0] if "/" in path else ".")


def _record(body_parts: list) -> list:
    length = 0
    for part in body_parts:
        length += len(part)
    if length > MAX_RECORD_BYTES:
        raise JournalError("record of " + str(length) + " bytes exceeds " + str(MAX_RECORD_BYTES))
    header = struct.pack("<I", length)
    crc = binascii.crc32(header)
    for part in body_parts:
        crc = binascii.crc32(part, crc)
    parts = [header]
    parts.extend(body_parts)
    parts.append(struct.pack("<I", crc & 0xFFFFFFFF))
    return parts


class Journal:
    """Open (and if needed repair) the journal in `directory`."""

    def __init__(self, directory: str, compact_after_bytes: int = 1024 * 1024) -> None:
        self.directory = directory
        self.compact_after_bytes = compact_after_bytes
        self.damage: list[Damage] = []
        self._log_path = directory + "/" + LOG_NAME
        self._new_path = directory + "/" + NEW_NAME
        self._pending: dict[str, PendingEvent] = {}
        self._acked: dict[str, str] = {}
        self._max_seq = 0
        self._size = 0
        self._dead_bytes = 0
        self._failed = False
        self._appender: object = None
        self._reader: object = None
        self._finish_interrupted_compaction()
        self._scan()
        if self.damage:
            self._rewrite()
        self._open_handles()

    # ---- reading -------------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        return self._max_seq + 1

    @property
    def size(self) -> int:
        return self._size

    def pending(self) -> list[PendingEvent]:
        """Unacknowledged events, oldest (lowest seq) first."""
        events = list(self._pending.values())
        events.sort(key=lambda event: event.seq)
        return events

    def is_pending(self, event_id: str) -> bool:
        return event_id in self._pending

    def ack_result(self, event_id: str) -> str | None:
        """The result central gave for an event acknowledged since the last compaction."""
        return self._acked.get(event_id)

    def payload(self, event: PendingEvent) -> bytes:
        return self._read_at(event.payload_offset, event.payload_length)

    def evidence(self, event: PendingEvent) -> bytes:
        return self._read_at(event.payload_offset + event.payload_length, event.evidence_length)

    def _read_at(self, offset: int, length: int) -> bytes:
        reader = self._reader
        reader.seek(offset)  # type: ignore[attr-defined]
        data: bytes = reader.read(length)  # type: ignore[attr-defined]
        if len(data) != length:
            raise JournalError("journal shorter than its index")
        return data

    # ---- writing -------------------------------------------------------------------------------

    def append(self, event_id: str, seq: int, payload: bytes, evidence: bytes = b"") -> PendingEvent:
        """Journal a signed event durably; returns once it would survive a power cut."""
        if seq <= self._max_seq:
            raise JournalError("seq " + str(seq) + " already used (next is " + str(self.next_seq) + ")")
        if event_id in self._pending or event_id in self._acked:
            raise JournalError("event_id " + event_id + " already journaled")
        offset = self._size
        key = event_id.encode()
        if not 0 < len(key) <= 255 or b" " in key:
            raise JournalError("event_id must be 1-255 bytes without spaces")
        head = struct.pack("<BQB", _EVENT, seq, len(key)) + key + struct.pack("<I", len(payload))
        self._append([head, payload, evidence])
        event = PendingEvent(event_id, seq, offset, 4 + len(head), len(payload), len(evidence))
        self._pending[event_id] = event
        self._max_seq = seq
        return event

    def ack(self, event_id: str, result: str) -> bool:
        """Record central's ack durably; False (and nothing written) when the event is not pending."""
        event = self._pending.get(event_id)
        if event is None:
            return False
        length = self._append([bytes((_ACK,)), (event_id + " " + result).encode()])
        del self._pending[event_id]
        self._acked[event_id] = result
        self._dead_bytes += event.record_length + length
        if self._dead_bytes >= self.compact_after_bytes:
            self.compact()
        return True

    def compact(self) -> None:
        """Drop acknowledged events: rewrite the pending ones into a new file and rename it in place."""
        self._close_handles()
        self._rewrite()
        self._open_handles()

    def close(self) -> None:
        self._close_handles()

    def _append(self, body_parts: list) -> int:
        if self._failed:
            raise JournalError("an earlier write failed; reopen the journal (its scan repairs the tail)")
        parts = _record(body_parts)
        appender = self._appender
        try:
            for part in parts:
                appender.write(part)  # type: ignore[attr-defined]
            _make_durable(appender)
        except OSError:
            # Disk full or I/O error: cut the partial record off so later appends stay framed;
            # where the port cannot truncate, refuse further writes until a reopen repairs the tail.
            self._failed = True
            truncate = getattr(appender, "truncate", None)
            if truncate is not None:
                try:
                    truncate(self._size)
                    _make_durable(appender)
                    self._failed = False
                except OSError:
                    pass
            raise
        length = 0
        for part in parts:
            length += len(part)
        self._size += length
        return length

    # ---- opening, scanning, rewriting ------------------------------------------------------------

    def _open_handles(self) -> None:
        self._appender = open(self._log_path, "ab")  # noqa: SIM115 - lives as long as the journal
        self._reader = open(self._log_path, "rb")  # noqa: SIM115

    def _close_handles(self) -> None:
        for handle in (self._appender, self._reader):
            if handle is not None:
                handle.close()  # type: ignore[attr-defined]
        self._appender = None
        self._reader = None

    def _finish_interrupted_compaction(self) -> None:
        if not _exists(self.directory):
            os.mkdir(self.directory)
        if not _exists(self._log_path):
            if _exists(self._new_path):
                # Only a fully written journal.new is ever renamed; on ports whose rename first
                # unlinks the target, a cut between unlink and rename leaves exactly this state.
                os.rename(self._new_path, self._log_path)
            else:
                open(self._log_path, "wb").close()
            # The file's directory entry must survive a cut too, or its fsync'ed records go with it.
            sync_directory(self.directory)
        elif _exists(self._new_path):
            os.remove(self._new_path)  # an interrupted compaction; journal.log is still whole

    def _scan(self) -> None:
        size = _file_size(self._log_path)
        with open(self._log_path, "rb") as handle:
            offset = 0
            while offset < size:
                end = self._scan_record(handle, offset, size)
                if end < 0:
                    break
                offset = end
        self._size = offset

    def _scan_record(self, handle: object, offset: int, size: int) -> int:
        """Index the record at `offset`; return where the next starts, or -1 when the rest is damaged."""
        handle.seek(offset)  # type: ignore[attr-defined]
        header = handle.read(4)  # type: ignore[attr-defined]
        length = struct.unpack("<I", header)[0] if len(header) == 4 else 0
        end = offset + 4 + length + 4
        if len(header) < 4 or end > size:
            self._keep_damage(handle, offset, size, "torn")
            return -1
        if length == 0 or length > MAX_RECORD_BYTES:
            self._keep_damage(handle, offset, size, "crc")
            return -1
        head = handle.read(min(length, _MAX_EVENT_HEAD))  # type: ignore[attr-defined]
        crc = binascii.crc32(head, binascii.crc32(header))
        remaining = length - len(head)
        while remaining:
            chunk = handle.read(min(remaining, _CHUNK))  # type: ignore[attr-defined]
            crc = binascii.crc32(chunk, crc)
            remaining -= len(chunk)
        stored = struct.unpack("<I", handle.read(4))[0]  # type: ignore[attr-defined]
        if stored != crc & 0xFFFFFFFF:
            self._keep_damage(handle, offset, end, "crc")
        elif not self._index(handle, offset, length, head):
            self._keep_damage(handle, offset, end, "invalid")
        return end

    def _index(self, handle: object, offset: int, length: int, head: bytes) -> bool:
        """Take a CRC-valid record into the in-memory state; False when its content makes no sense."""
        kind = head[0]
        if kind == _EVENT:
            if len(head) < 10:
                return False
            seq, key_length = struct.unpack("<QB", head[1:10])
            header_end = 10 + key_length + 4
            if len(head) < header_end:
                return False
            event_id = head[10 : 10 + key_length].decode()
            payload_length = struct.unpack("<I", head[header_end - 4 : header_end])[0]
            if header_end + payload_length > length or seq < 1:
                return False
            event = PendingEvent(
                event_id, seq, offset, 4 + header_end, payload_length, length - header_end - payload_length
            )
            self._pending[event_id] = event
            self._max_seq = max(self._max_seq, seq)
            return True
        handle.seek(offset + 5)  # type: ignore[attr-defined]
        text = handle.read(length - 1).decode()  # type: ignore[attr-defined]
        if kind == _ACK:
            space = text.find(" ")
            if space < 1:
                return False
            event_id, result = text[:space], text[space + 1 :]
            if event_id in self._pending:
                event = self._pending.pop(event_id)
                self._acked[event_id] = result
                self._dead_bytes += event.record_length + 4 + length + 4
            return True
        if kind == _SEQ_MARK:
            self._max_seq = max(self._max_seq, int(text))
            return True
        return False

    def _keep_damage(self, handle: object, start: int, end: int, reason: str) -> None:
        """Copy refused bytes beside the journal (for inspection), never silently into the void."""
        saved_as = self.directory + "/damaged-" + str(start) + "-" + reason + ".bin"
        handle.seek(start)  # type: ignore[attr-defined]
        with open(saved_as, "wb") as out:
            remaining = end - start
            while remaining:
                chunk = handle.read(min(remaining, _CHUNK))  # type: ignore[attr-defined]
                out.write(chunk)
                remaining -= len(chunk)
        self.damage.append(Damage(start, end - start, reason, saved_as))

    def _rewrite(self) -> None:
        """Write a seq mark and the pending events to journal.new, then rename it over journal.log."""
        events = self.pending()
        with open(self._new_path, "wb") as out, open(self._log_path, "rb") as source:
            size = 0
            for part in _record([bytes((_SEQ_MARK,)), str(self._max_seq).encode()]):
                out.write(part)
                size += len(part)
            moved = []
            for event in events:
                source.seek(event.offset)
                remaining = event.record_length
                moved.append(event.moved_to(size))
                size += remaining
                while remaining:
                    chunk = source.read(min(remaining, _CHUNK))
                    out.write(chunk)
                    remaining -= len(chunk)
            _make_durable(out)
        os.rename(self._new_path, self._log_path)
        sync_directory(self.directory)
        self._pending = {}
        for event in moved:
            self._pending[event.event_id] = event
        self._acked = {}
        self._size = size
        self._dead_bytes = 0
