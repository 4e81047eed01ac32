"""IQ sources for the agent: a WAV recording, live PCM on stdin, and a reader that never stalls the loop."""

import os
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def wav_source(path: Path, chunk_s: float = 0.1) -> tuple[float, Iterator[np.ndarray]]:
    """Sample rate and complex IQ chunks of a two-channel WAV (left I, right Q)."""
    from speedledger.edge.dsp import read_iq_wav

    rate, iq = read_iq_wav(path)
    step = max(1, int(rate * chunk_s))
    return float(rate), (iq[start : start + step] for start in range(0, iq.size, step))


def pcm_stdin_source(sample_rate: float, chunk_s: float = 0.1) -> Iterator[np.ndarray]:
    """Live IQ: interleaved 16-bit little-endian stereo PCM (left I, right Q) on stdin, e.g. from arecord."""
    frame_bytes = 4
    step = max(1, int(sample_rate * chunk_s)) * frame_bytes
    descriptor = sys.stdin.fileno()
    carry = b""
    while True:
        # os.read, not sys.stdin.buffer: a thread blocked in a buffered read wedges interpreter exit.
        data = os.read(descriptor, step)
        if not data:
            return
        carry += data
        usable = len(carry) - len(carry) % frame_bytes
        if usable:
            samples = np.frombuffer(carry[:usable], dtype="<i2").astype(np.float32) / 32768.0
            carry = carry[usable:]
            yield (samples[0::2] + 1j * samples[1::2]).astype(np.complex64)


def without_stalling(chunks: Iterator[np.ndarray], wait_s: float = 0.1) -> Iterator[np.ndarray | None]:
    """Read a blocking source in a thread; yield None whenever nothing arrived for `wait_s`."""
    arrived: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=64)

    def read() -> None:
        try:
            for chunk in chunks:
                arrived.put(chunk)
        finally:
            arrived.put(None)  # end of the source

    threading.Thread(target=read, name="iq-source", daemon=True).start()
    while True:
        try:
            chunk = arrived.get(timeout=wait_s)
        except queue.Empty:
            yield None
            continue
        if chunk is None:
            return
        yield chunk
