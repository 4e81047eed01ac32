"""The board's time sync (`edge/core/sntp.py`): the SNTP request, answers read into a time and an error
bound (half the round trip, the server's root distance, 1 ms of truncation), refused answers, the bound
growing with the drift and the limit, and the portable `Radar` sending passages only with a valid time.
tests/micropython/test_portable_core.py runs the same scenario on MicroPython."""

from __future__ import annotations

import json
import math
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

from speedledger.edge.core import sntp
from speedledger.shared.passage import MAX_CLOCK_UNCERTAINTY_MS
from tests.edge.test_passages import START_MS, car, radar
from tests.micropython.sntp_scenario import run_sntp_scenario

NONCE = bytes.fromhex("0123456789abcdef")
#: Seconds from 1900 to 1970, written out here rather than taken from the code under test.
NTP_EPOCH_S = 70 * 365 * 86400 + 17 * 86400
RECEIVED = Fraction(1_796_000_000) + Fraction(1, 4)
TRANSMITTED = RECEIVED + Fraction(1, 4)
ROUND_TRIP_MS = 300
ROOT_DELAY_S, ROOT_DISPERSION_S = Fraction(1, 16), Fraction(1, 32)
#: Unix time in 2040: its NTP seconds have wrapped (era 1).
ERA_1 = Fraction(2_240_000_000)


def timestamp(unix_s: Fraction) -> bytes:
    seconds = math.floor(unix_s)
    return struct.pack(">II", (seconds + NTP_EPOCH_S) % 2**32, math.floor((unix_s - seconds) * 2**32))


def answer(
    received: Fraction = RECEIVED,
    transmitted: Fraction = TRANSMITTED,
    *,
    nonce: bytes = NONCE,
    leap: int = 0,
    mode: int = 4,
    stratum: int = 2,
    reference: bytes = b"GPS\0",
) -> str:
    """A server's answer (RFC 4330 §4) as hex."""
    packet = struct.pack(">BBbb", leap << 6 | 4 << 3 | mode, stratum, 6, -20)
    packet += struct.pack(">II", int(ROOT_DELAY_S * 65536), int(ROOT_DISPERSION_S * 65536)) + reference
    packet += timestamp(transmitted - 60) + nonce + timestamp(received) + timestamp(transmitted)
    return packet.hex()


def ms(unix_s: Fraction) -> int:
    return math.floor(unix_s * 1000)


HOUR_MS = 3_600_000
READING_MS = ms(TRANSMITTED)
#: Monotonic instants of the clock script, and the bound of the tighter reading taken an hour in.
SYNCED_AT, AN_HOUR_LATER = 1000, 1000 + HOUR_MS
TIGHT_MS = 40
#: When that bound, growing by DRIFT_PPM, reaches the limit exactly.
LIMIT_REACHED = AN_HOUR_LATER + (MAX_CLOCK_UNCERTAINTY_MS - TIGHT_MS) * 1_000_000 // sntp.DRIFT_PPM

GIVEN: dict[str, Any] = {
    "nonce_hex": NONCE.hex(),
    "answers": [
        [answer(), ROUND_TRIP_MS],
        [answer(ERA_1, ERA_1 + Fraction(1, 4)), 250],
        [answer(nonce=bytes(8)), ROUND_TRIP_MS],
        [answer(mode=3), ROUND_TRIP_MS],
        [answer(stratum=0, reference=b"RATE"), ROUND_TRIP_MS],
        [answer(leap=3), ROUND_TRIP_MS],
        [answer()[:94], ROUND_TRIP_MS],
        [answer(TRANSMITTED, RECEIVED), ROUND_TRIP_MS],
    ],
    "clock": [
        ["read"],
        ["at", SYNCED_AT],
        ["reading", READING_MS, 90],
        ["read"],
        ["at", AN_HOUR_LATER],
        ["read"],
        ["reading", READING_MS + 5, 500],
        ["reading", READING_MS + 7, TIGHT_MS],
        ["read"],
        ["at", LIMIT_REACHED],
        ["read"],
        ["at", LIMIT_REACHED + 1],
        ["read"],
    ],
}


def test_the_request_is_an_sntp_v4_client_packet_carrying_the_nonce() -> None:
    packet = bytes.fromhex(run_sntp_scenario(GIVEN)["request_hex"])
    assert len(packet) == 48
    assert (packet[0] >> 6, packet[0] >> 3 & 7, packet[0] & 7) == (0, 4, 3)  # no leap warning, v4, client
    assert packet[40:] == NONCE and packet[1:40] == bytes(39)


def test_an_answer_gives_the_time_and_its_error_bound() -> None:
    good, era_1, *refused = run_sntp_scenario(GIVEN)["answers"]
    processing_ms = ms(TRANSMITTED) - ms(RECEIVED)
    network_ms = ROUND_TRIP_MS - processing_ms
    root_distance_ms = math.ceil(math.ceil(ROOT_DELAY_S * 1000) / 2) + math.ceil(ROOT_DISPERSION_S * 1000)
    assert good == [ms(TRANSMITTED) + network_ms // 2, math.ceil(network_ms / 2) + root_distance_ms + 1]
    assert era_1[0] == ms(ERA_1) + 250  # after 2036 the NTP seconds wrap: still read as the right year
    assert refused == [
        "the answer is not to our request",
        "not a server answer (mode 3)",
        "kiss-o'-death RATE",
        "the server is not synchronised",
        "an answer of 47 bytes, not 48",
        "timestamps out of order",
    ]


def test_the_bound_grows_with_the_drift_until_the_limit() -> None:
    before, taken, at_sync, hour, looser, tighter, after_tighter, at_limit, beyond = run_sntp_scenario(GIVEN)["clock"]
    assert before == [None, None, None]  # no valid time before the first reading
    assert taken is True and at_sync == [READING_MS, 90, SYNCED_AT]
    drift_per_hour_ms = math.ceil(Fraction(HOUR_MS * sntp.DRIFT_PPM, 1_000_000))
    assert hour == [READING_MS + HOUR_MS, 90 + drift_per_hour_ms, SYNCED_AT]
    assert looser is False  # 500 ms is worse than the 90 + drift it has
    assert tighter is True and after_tighter == [READING_MS + 7, TIGHT_MS, SYNCED_AT]
    assert at_limit[1] == MAX_CLOCK_UNCERTAINTY_MS  # still a valid time at the limit...
    assert beyond[1] is None  # ...and none 1 ms later, though the clock still runs
    assert beyond[0] == READING_MS + 7 + LIMIT_REACHED + 1 - AN_HOUR_LATER


def test_the_radar_sends_passages_only_once_the_board_clock_has_a_bound(tmp_path: Path) -> None:
    device, _ = radar(tmp_path, None)
    now = [0]
    clock = sntp.SntpClock(lambda: now[0])
    device.time_sync = clock
    device.on_pass(car(50.0), START_MS)
    assert (device.stats.passages, device.stats.passages_without_time) == (0, 1)
    assert clock.reading(START_MS, 90, now[0])
    now[0] = HOUR_MS
    device.on_pass(car(50.0), START_MS + HOUR_MS)
    (pending,) = device.journal.pending()
    drift_ms = math.ceil(Fraction(HOUR_MS * sntp.DRIFT_PPM, 1_000_000))
    assert json.loads(device.journal.payload(pending))["clock_uncertainty_ms"] == 90 + drift_ms
