"""The board's time sync: one SNTP exchange over a UDP socket (as MicroPython's `ntptime` does), read with
the portable `edge/core/sntp.py`, which also keeps the error bound (`TimeSync`); the RTC is set from it
to the microsecond (`ntptime` truncates to the second)."""

import os
import socket
import time

import machine

from speedledger.edge.core.sntp import NTP_PORT, PACKET_BYTES, SntpClock, SntpError, read_response, request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

#: How long one exchange may block the board's loop (the watchdog allows 30 s).
TIMEOUT_S = 1


class BoardTimeSync(SntpClock):
    """`SntpClock` fed by `sync()`; `epoch_offset_ms` is the port's epoch (1970 or 2000) in Unix ms."""

    def __init__(
        self, host: str, monotonic_ms: "Callable[[], int]", epoch_offset_ms: int, port: int = NTP_PORT
    ) -> None:
        super().__init__(monotonic_ms)
        self.host = host
        self.port = port
        self.epoch_offset_ms = epoch_offset_ms

    def sync(self) -> bool:
        """One exchange; on a tighter reading the RTC is set. False when the server gave no usable time
        (OSError, timeout, SntpError), the bound kept growing from the last reading meanwhile."""
        nonce = os.urandom(8)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.settimeout(TIMEOUT_S)
            address = socket.getaddrinfo(self.host, self.port)[0][-1]
            sent_at = self.monotonic_ms()
            sock.sendto(request(nonce), address)
            answer = sock.recv(PACKET_BYTES)
            received_at = self.monotonic_ms()
            unix_ms, bound_ms = read_response(answer, nonce, received_at - sent_at)
        except (OSError, SntpError):
            return False
        finally:
            sock.close()
        if self.reading(unix_ms, bound_ms, received_at):
            self._set_rtc()
        return True

    def _set_rtc(self) -> None:
        now_ms = self.now_ms()
        if now_ms is None:
            return
        local_ms = now_ms - self.epoch_offset_ms
        tm = time.gmtime(local_ms // 1000)
        machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], local_ms % 1000 * 1000))
