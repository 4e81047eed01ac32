"""The Linux agent's time sync: the kernel's own bound on the clock error, kept by NTP (chrony, ntpd,
systemd-timesyncd), read with `adjtimex(2)` without changing anything.

`maxerror` is the kernel's maximum error estimate (µs); while the clock is not synchronised
(`STA_UNSYNC`, or `adjtimex` answering TIME_ERROR) there is no valid time, and the radar sends no
passages (CONTRACT §6). `FixedTimeSync` is a declared bound instead (`edge run --clock-uncertainty-ms`):
a clock the kernel does not discipline, such as a GPS receiver's, or the stream time of a recording
or a simulation dated with `--start-ms`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: `status` bit: the clock is not synchronised.
STA_UNSYNC = 0x0040
#: `adjtimex` return value: the clock is not synchronised.
TIME_ERROR = 5


class _Timex(ctypes.Structure):
    # The head of `struct timex` (linux/timex.h); the tail the kernel also fills is padding here.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_char * 256),
    ]


def uncertainty_ms(state: int, status: int, maxerror_us: int) -> int | None:
    """The clock's error bound in whole ms (rounded up), or None when the clock is not synchronised."""
    if state < 0 or state == TIME_ERROR or status & STA_UNSYNC:
        return None
    return -(-maxerror_us // 1000)


class KernelTimeSync:
    """`TimeSync` from the Linux kernel; reads `adjtimex` at every call (modes 0: read only)."""

    def __init__(self) -> None:
        self._adjtimex = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).adjtimex

    def uncertainty_ms(self) -> int | None:
        timex = _Timex()
        state = int(self._adjtimex(ctypes.byref(timex)))
        return uncertainty_ms(state, timex.status, timex.maxerror)


class FixedTimeSync:
    """`TimeSync` with a declared bound: a clock the kernel does not know about (GPS, a simulated stream)."""

    def __init__(self, uncertainty_ms: int) -> None:
        if uncertainty_ms < 0:
            raise ValueError("the clock uncertainty cannot be negative")
        self._uncertainty_ms = uncertainty_ms

    def uncertainty_ms(self) -> int:
        return self._uncertainty_ms
