"""The on-device journal: durability, crash recovery at every byte, bit-flip detection, seq persistence."""

import os
import shutil
from pathlib import Path

import pytest

from speedledger.edge.core.journal import LOG_NAME, NEW_NAME, Journal, JournalError
from speedledger.shared.canonical import dumps


def event_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012x}"


def payload(n: int) -> bytes:
    return dumps({"event_id": event_id(n), "seq": n, "radar_id": "R-1"})


def evidence(n: int) -> bytes:
    return bytes((n * 7 + i) % 256 for i in range(64 + n))


def fill(directory: Path, count: int) -> Journal:
    journal = Journal(str(directory))
    for n in range(1, count + 1):
        journal.append(event_id(n), n, payload(n), evidence(n))
    return journal


def test_pending_events_survive_reopen_with_payload_and_evidence(tmp_path: Path) -> None:
    journal = fill(tmp_path, 3)
    assert journal.ack(event_id(2), "accepted")
    journal.close()

    reopened = Journal(str(tmp_path))
    assert [event.seq for event in reopened.pending()] == [1, 3]
    for event in reopened.pending():
        assert reopened.payload(event) == payload(event.seq)
        assert reopened.evidence(event) == evidence(event.seq)
    assert reopened.next_seq == 4
    assert reopened.ack_result(event_id(2)) == "accepted"
    assert reopened.damage == []


def test_ack_of_unknown_event_writes_nothing(tmp_path: Path) -> None:
    journal = fill(tmp_path, 1)
    size = journal.size
    assert not journal.ack(event_id(9), "accepted")
    assert journal.size == size == os.path.getsize(tmp_path / LOG_NAME)


def test_seq_and_event_ids_are_never_reused(tmp_path: Path) -> None:
    journal = fill(tmp_path, 2)
    with pytest.raises(JournalError):
        journal.append(event_id(7), 2, payload(7))
    with pytest.raises(JournalError):
        journal.append(event_id(1), 3, payload(3))


def test_compaction_drops_acked_events_and_keeps_seq(tmp_path: Path) -> None:
    journal = fill(tmp_path, 4)
    before = journal.size
    for n in (1, 2, 4):
        journal.ack(event_id(n), "duplicate")
    journal.compact()
    assert journal.size < before
    assert [event.seq for event in journal.pending()] == [3]
    assert journal.evidence(journal.pending()[0]) == evidence(3)
    journal.ack(event_id(3), "accepted")
    journal.compact()
    journal.close()

    reopened = Journal(str(tmp_path))
    assert reopened.pending() == []
    assert reopened.next_seq == 5, "seq must survive a compaction that dropped every event"


def test_compaction_runs_by_itself_past_the_threshold(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path), compact_after_bytes=400)
    for n in range(1, 20):
        journal.append(event_id(n), n, payload(n), evidence(n))
        journal.ack(event_id(n), "accepted")
    assert journal.size < 400 + 300
    assert Journal(str(tmp_path)).next_seq == 20


def _last_record_bounds(tmp_path: Path, count: int) -> tuple[bytes, int]:
    journal = fill(tmp_path / "src", count - 1)
    start = journal.size
    journal.append(event_id(count), count, payload(count), evidence(count))
    journal.close()
    return (tmp_path / "src" / LOG_NAME).read_bytes(), start


def _open_copy(directory: Path, data: bytes) -> Journal:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir()
    (directory / LOG_NAME).write_bytes(data)
    return Journal(str(directory))


def test_power_cut_at_every_byte_of_the_last_record_loses_nothing_older(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    data, start = _last_record_bounds(tmp_path, 3)
    for cut in range(start, len(data) + 1):
        journal = _open_copy(tmp_path / "cut", data[:cut])
        pending = journal.pending()
        whole = cut == len(data)
        assert [event.seq for event in pending] == ([1, 2, 3] if whole else [1, 2]), cut
        for event in pending:
            assert journal.payload(event) == payload(event.seq)
            assert journal.evidence(event) == evidence(event.seq)
        assert journal.next_seq == (4 if whole else 3)
        assert (journal.damage == []) == (whole or cut == start), cut
        # The repaired journal takes new events and reopens clean.
        journal.append(event_id(10), journal.next_seq, payload(10))
        journal.close()
        again = Journal(str(tmp_path / "cut"))
        assert again.damage == []
        assert len(again.pending()) == len(pending) + 1


def test_power_cut_inside_an_ack_record_keeps_the_event_pending(tmp_path: Path) -> None:
    journal = fill(tmp_path / "src", 2)
    start = journal.size
    journal.ack(event_id(2), "accepted")
    journal.close()
    data = (tmp_path / "src" / LOG_NAME).read_bytes()
    for cut in range(start, len(data)):
        reopened = _open_copy(tmp_path / "cut", data[:cut])
        assert [event.seq for event in reopened.pending()] == [1, 2]


def test_bit_flips_in_the_last_record_are_detected(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    data, start = _last_record_bounds(tmp_path, 3)
    for position in range(start, len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 1 << (position % 8)
        journal = _open_copy(tmp_path / "flip", bytes(flipped))
        assert [event.seq for event in journal.pending()] == [1, 2], position
        # A flipped length field may split the bytes in two refused pieces; together they are the record.
        assert journal.damage, position
        saved = b"".join(Path(damage.saved_as).read_bytes() for damage in journal.damage)
        assert saved == bytes(flipped[start:]), position
        for event in journal.pending():
            assert journal.payload(event) == payload(event.seq)


def test_damage_in_an_older_record_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    journal = fill(tmp_path / "src", 3)
    journal.close()
    data = bytearray((tmp_path / "src" / LOG_NAME).read_bytes())
    data[20] ^= 0x10  # inside the first event's payload
    reopened = _open_copy(tmp_path / "bad", bytes(data))
    assert [event.seq for event in reopened.pending()] == [2, 3]
    assert [damage.reason for damage in reopened.damage] == ["crc"]


def test_interrupted_compaction_is_finished_or_discarded(tmp_path: Path) -> None:
    journal = fill(tmp_path, 2)
    journal.close()
    (tmp_path / NEW_NAME).write_bytes(b"half-written")
    assert [event.seq for event in Journal(str(tmp_path)).pending()] == [1, 2]
    assert not (tmp_path / NEW_NAME).exists()

    # A port whose rename unlinks the target first can be cut between the two steps.
    os.rename(tmp_path / LOG_NAME, tmp_path / NEW_NAME)
    assert [event.seq for event in Journal(str(tmp_path)).pending()] == [1, 2]


def test_payload_is_opaque_and_large_evidence_round_trips(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    picture = os.urandom(200_000)
    journal.append(event_id(1), 1, b"\x00not json\xff", picture)
    journal.close()
    reopened = Journal(str(tmp_path))
    (event,) = reopened.pending()
    assert reopened.payload(event) == b"\x00not json\xff"
    assert reopened.evidence(event) == picture


def test_an_intact_record_of_unknown_kind_is_set_aside_not_guessed(tmp_path: Path) -> None:
    from speedledger.edge.core.journal import _record

    journal = fill(tmp_path, 1)
    journal.close()
    with open(tmp_path / LOG_NAME, "ab") as handle:
        for part in _record([b"Zfuture"]):
            handle.write(part)
    reopened = Journal(str(tmp_path))
    assert [damage.reason for damage in reopened.damage] == ["invalid"]
    assert [event.seq for event in reopened.pending()] == [1]


def test_a_failed_write_leaves_the_journal_framed(tmp_path: Path) -> None:
    """Disk full in the middle of a record: it is cut off, earlier and later events stay intact."""
    journal = fill(tmp_path, 1)
    real = journal._appender

    class FullDisk:
        def __init__(self) -> None:
            self.writes = 0

        def write(self, data: bytes) -> int:
            self.writes += 1
            if self.writes == 3:
                raise OSError(28, "No space left on device")
            return real.write(data)  # type: ignore[attr-defined,no-any-return]

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    journal._appender = FullDisk()
    with pytest.raises(OSError):
        journal.append(event_id(2), 2, payload(2), evidence(2))
    journal._appender = real
    journal.append(event_id(3), 3, payload(3), evidence(3))
    journal.close()
    reopened = Journal(str(tmp_path))
    assert reopened.damage == []
    assert [event.seq for event in reopened.pending()] == [1, 3]
    assert reopened.evidence(reopened.pending()[1]) == evidence(3)
