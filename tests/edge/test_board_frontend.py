"""The board's UART front end feeding the portable tracker (CPython run of the MicroPython code)."""

import pytest

from speedledger.edge.board.frontend import UartFrontEnd, parse_frame


class FakeUart:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def any(self) -> int:
        return len(self.lines)

    def readline(self) -> bytes | None:
        return self.lines.pop(0) if self.lines else None


def test_parse_frame_reads_signed_speed_and_snr_pairs() -> None:
    detections = parse_frame(b"87.31 24.5;-12.02 11.0\r\n")
    assert [(d.speed_kmh, d.snr_db) for d in detections] == [(87.31, 24.5), (-12.02, 11.0)]
    assert parse_frame(b"\n") == []
    with pytest.raises(ValueError):
        parse_frame(b"87.31\n")


def test_uart_frames_become_one_vehicle_pass() -> None:
    uart = FakeUart()
    frontend = UartFrontEnd(uart)
    passes = []
    t_ms = 0
    for frame in range(40):
        uart.lines.append(b"104.3 25.0\n" if frame < 25 else b"\n")
        if frame == 3:
            uart.lines.append(b"garbage\n")
        t_ms += 20
        passes.extend(frontend.poll(t_ms))
    for _ in range(20):
        t_ms += 20
        passes.extend(frontend.poll(t_ms))  # a silent module: time passing closes the track
    assert len(passes) == 1
    assert passes[0].valid and passes[0].direction == "approaching"
    assert abs(passes[0].speed_kmh - 104.3) < 0.01
    assert passes[0].frames == 25
    assert frontend.garbled == 1


def test_a_line_split_across_reads_is_joined() -> None:
    uart = FakeUart()
    frontend = UartFrontEnd(uart)
    uart.lines = [b"104.3", b" 25.0\n"]
    frontend.poll(20)
    assert frontend.garbled == 0
