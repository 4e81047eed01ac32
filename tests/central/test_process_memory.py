"""Central caps glibc's malloc arenas at its start (central/entrypoints/process_memory.py): threads
started afterwards share ARENAS of them instead of getting one each, so memory they once held is
kept in few places. An operator's MALLOC_ARENA_MAX wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from speedledger.central.entrypoints.process_memory import ARENAS, limit_malloc_arenas

THREADS = 6

#: Prints how many thread arenas (64 MiB-aligned anonymous mappings) exist while THREADS threads hold memory.
SCRIPT = """
import sys, threading
from pathlib import Path
from speedledger.central.entrypoints.process_memory import ARENA_ALIGNMENT, limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
barrier = threading.Barrier(int(sys.argv[2]) + 1)
def work():
    kept = [bytes(100_000) for _ in range(4)]  # malloc'ed (above Python's small-object allocator)
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(int(sys.argv[2]))]
for thread in threads:
    thread.start()
barrier.wait()
maps = [line.split() for line in Path("/proc/self/maps").read_text().splitlines()]
print(sum(1 for fields in maps if len(fields) == 5 and int(fields[0].split("-")[0], 16) % ARENA_ALIGNMENT == 0))
barrier.wait()
"""


def thread_arenas(mode: str) -> int:
    env = {name: value for name, value in os.environ.items() if name != "MALLOC_ARENA_MAX"}
    command = [sys.executable, "-c", SCRIPT, mode, str(THREADS)]
    return int(subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=60).stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas, counted in /proc")
def test_threads_share_the_capped_arenas() -> None:
    assert thread_arenas("none") == THREADS, "without the cap each thread gets its own arena"
    assert thread_arenas("limit") == ARENAS - 1  # the main arena is the brk heap


def test_an_operators_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not limit_malloc_arenas()
