"""The board's SNTP adapter (`edge/board/ntp.py`) on CPython over a real UDP socket, against a small
SNTP server here; only the board's `machine.RTC` is stood in for (it is hardware)."""

from __future__ import annotations

import importlib
import socket
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest

from tests.edge.test_sntp import answer

MODULE = "speedledger.edge.board.ntp"
#: What the board would have set its RTC to, by `machine.RTC().datetime(...)`.
RTC_SET: list[tuple[int, ...]] = []


class RecordingRTC:
    def datetime(self, value: tuple[int, ...]) -> None:
        RTC_SET.append(value)


@pytest.fixture
def board_ntp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    RTC_SET.clear()
    monkeypatch.setitem(sys.modules, "machine", types.SimpleNamespace(RTC=RecordingRTC))
    yield importlib.import_module(MODULE)
    sys.modules.pop(MODULE)  # imported with the stand-in `machine`: never reused


def serve(reply: Callable[[bytes], bytes]) -> tuple[int, threading.Thread]:
    """One SNTP answer on a free UDP port of 127.0.0.1."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)

    def run() -> None:
        with server:
            request, client = server.recvfrom(48)
            server.sendto(reply(request), client)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def now_s() -> Fraction:
    return Fraction(time.time_ns(), 10**9)


def test_one_exchange_sets_the_rtc_and_gives_a_bound(board_ntp: Any) -> None:
    server_time = now_s() + 3600  # the board's clock is an hour off
    port, thread = serve(lambda request: bytes.fromhex(answer(server_time, server_time, nonce=request[40:48])))
    clock = board_ntp.BoardTimeSync("127.0.0.1", monotonic_ms, 0, port)
    assert clock.uncertainty_ms() is None
    assert clock.sync() is True
    thread.join()
    bound = clock.uncertainty_ms()
    # The answer's root distance (32 + 32 ms), 1 ms of truncation, half a loopback round trip.
    assert bound is not None and 65 <= bound < 200
    (rtc,) = RTC_SET
    year, month, day, weekday, hour, minute, second, microsecond = rtc
    set_at = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)
    assert weekday == set_at.weekday() + 1
    assert abs(Fraction(int(set_at.timestamp() * 10**6), 10**6) - server_time) < Fraction(bound + 100, 1000)


def test_an_answer_that_is_not_ours_or_no_answer_gives_no_time(board_ntp: Any) -> None:
    port, thread = serve(lambda request: bytes.fromhex(answer(now_s(), now_s(), nonce=bytes(8))))
    clock = board_ntp.BoardTimeSync("127.0.0.1", monotonic_ms, 0, port)
    assert clock.sync() is False
    thread.join()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    with silent:
        assert board_ntp.BoardTimeSync("127.0.0.1", monotonic_ms, 0, silent.getsockname()[1]).sync() is False
    assert clock.uncertainty_ms() is None and RTC_SET == []
