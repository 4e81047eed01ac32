"""Time sync for a board without an NTP daemon: one SNTP exchange (RFC 4330) and the clock's error bound
since. MicroPython-safe; the socket and the RTC are the board's (`edge/board/ntp.py`).

`request(nonce)` is the client packet; `read_response` checks the server's answer (it echoes our nonce,
is synchronised, not a kiss-o'-death) and gives the Unix time at its reception with the error bound of
that reading: half the network round trip (the server answered somewhere inside it), the server's own
root distance (root delay / 2 + root dispersion) and 1 ms of timestamp truncation. `SntpClock` then
implements the `TimeSync` port: that bound grows by `DRIFT_PPM` of the time elapsed since (the
board's oscillator running free), and there is no valid time before the first exchange or once the
bound exceeds what a passage may carry (CONTRACT §6).
"""

from speedledger.shared.passage import MAX_CLOCK_UNCERTAINTY_MS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PACKET_BYTES = 48
NTP_PORT = 123
#: Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_TO_UNIX_S = 2_208_988_800
#: Bound on the board clock's drift between exchanges, in parts per million: an ESP32's 40 MHz crystal
#: is specified at +-10 ppm, +-20 to +-50 ppm over temperature and ageing for common parts; 100 ppm
#: covers them with margin (360 ms an hour, the 60 s limit after a week without an answer).
DRIFT_PPM = 100
#: LI 0 (no warning), version 4, mode 3 (client).
_CLIENT = (0 << 6) | (4 << 3) | 3
_MODE_SERVER = 4
_LI_ALARM = 3


class SntpError(ValueError):
    """An answer that gives no time: too short, not ours, from an unsynchronised server or a kiss-o'-death."""


def request(nonce: bytes) -> bytes:
    """The client packet; `nonce` (8 random bytes) is its transmit timestamp, which the server echoes."""
    if len(nonce) != 8:
        raise ValueError("the nonce is 8 bytes")
    return bytes([_CLIENT]) + bytes(39) + nonce


def read_response(packet: bytes, nonce: bytes, round_trip_ms: int) -> "tuple[int, int]":
    """(Unix ms at the answer's reception, its error bound in ms) from the server's `packet`, received
    `round_trip_ms` after the request left (measured on a monotonic clock); SntpError when unusable."""
    if len(packet) < PACKET_BYTES:
        raise SntpError(f"an answer of {len(packet)} bytes, not {PACKET_BYTES}")
    leap, mode, stratum = packet[0] >> 6, packet[0] & 7, packet[1]
    if mode != _MODE_SERVER:
        raise SntpError(f"not a server answer (mode {mode})")
    if packet[24:32] != nonce:
        raise SntpError("the answer is not to our request")
    if stratum == 0:
        raise SntpError("kiss-o'-death " + _ascii(packet[12:16]))
    if leap == _LI_ALARM or stratum > 15:
        raise SntpError("the server is not synchronised")
    received_ms, transmitted_ms = _unix_ms(packet[32:40]), _unix_ms(packet[40:48])
    if transmitted_ms < received_ms or round_trip_ms < 0:
        raise SntpError("timestamps out of order")
    delay_ms = max(0, round_trip_ms - (transmitted_ms - received_ms))
    root_delay_ms = _ceil_div(_u32(packet, 4) * 1000, 65536)
    root_dispersion_ms = _ceil_div(_u32(packet, 8) * 1000, 65536)
    bound_ms = _ceil_div(delay_ms, 2) + _ceil_div(root_delay_ms, 2) + root_dispersion_ms + 1
    return transmitted_ms + delay_ms // 2, bound_ms


class SntpClock:
    """The `TimeSync` port from SNTP readings: Unix time and its error bound, on a monotonic ms counter."""

    def __init__(
        self,
        monotonic_ms: "Callable[[], int]",
        drift_ppm: int = DRIFT_PPM,
        max_uncertainty_ms: int = MAX_CLOCK_UNCERTAINTY_MS,
    ) -> None:
        self.monotonic_ms = monotonic_ms
        self.drift_ppm = drift_ppm
        self.max_uncertainty_ms = max_uncertainty_ms
        self._unix_ms: int | None = None
        self._at_ms = 0
        self._bound_ms = 0
        #: The monotonic instant of the first reading: what was measured before had no valid time.
        self.valid_since_ms: int | None = None

    def reading(self, unix_ms: int, bound_ms: int, at_ms: int) -> bool:
        """Take the time `unix_ms` +- `bound_ms` read at monotonic `at_ms`, unless the bound it has is
        tighter; whether it was taken."""
        if self._unix_ms is not None and self._bound_at(at_ms) <= bound_ms:
            return False
        self._unix_ms, self._bound_ms, self._at_ms = unix_ms, bound_ms, at_ms
        if self.valid_since_ms is None:
            self.valid_since_ms = at_ms
        return True

    def now_ms(self) -> "int | None":
        """Unix time now in ms, or None before the first reading."""
        if self._unix_ms is None:
            return None
        return self._unix_ms + self.monotonic_ms() - self._at_ms

    def uncertainty_ms(self) -> "int | None":
        """The bound on the clock's error now; None before the first reading or above the limit."""
        if self._unix_ms is None:
            return None
        bound = self._bound_at(self.monotonic_ms())
        return bound if bound <= self.max_uncertainty_ms else None

    def _bound_at(self, at_ms: int) -> int:
        return self._bound_ms + _ceil_div(max(0, at_ms - self._at_ms) * self.drift_ppm, 1_000_000)


def _unix_ms(timestamp: bytes) -> int:
    """An NTP timestamp (32.32 fixed point seconds) as Unix ms, truncated; era 1 from 2036 (RFC 4330 §3)."""
    seconds, fraction = _u32(timestamp, 0), _u32(timestamp, 4)
    if not seconds & 0x80000000:
        seconds += 1 << 32
    return (seconds - NTP_TO_UNIX_S) * 1000 + (fraction * 1000 >> 32)


def _u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "big")


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _ascii(code: bytes) -> str:
    return "".join(chr(byte) if 32 <= byte < 127 else "?" for byte in code)
