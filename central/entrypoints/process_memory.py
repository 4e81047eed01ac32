"""Process-wide memory settings of `speedledger central`, applied before its threads start.

glibc's malloc gives threads that contend for a lock their own arena, up to 8 per core, and an arena
keeps what it once held: under a fleet's backlog central's ~10 threads (ingest, verify pool,
projections, API) grew arenas with the backlog's size (docs/scaling.md, "Backlog"). Central limits
them to `ARENAS` unless `MALLOC_ARENA_MAX` is set (glibc reads it itself; an operator's value wins).
Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sqlite3
from pathlib import Path

#: Malloc arenas shared by central's threads.
ARENAS = 2
#: glibc's mallopt parameter number for the arena limit (malloc.h).
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for the threads started from now on; whether the cap was set here."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))


#: glibc's thread arenas (its secondary malloc heaps) each start on a boundary of their 64 MiB reservation.
ARENA_ALIGNMENT = 64 * 1024 * 1024


def memory_map(pid: int) -> dict[str, float]:
    """Resident MiB of a process by kind of mapping (/proc/PID/smaps, Linux): the main malloc heap
    (brk), glibc's thread arenas, other anonymous memory (large mallocs, thread stacks, Python's and
    SQLite's mmaps) and files (code). What bench/backlog_bench.py reports near central's peak."""
    kinds = dict.fromkeys(("main heap", "thread arenas", "other anonymous", "files"), 0.0)
    kind = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields[0] == "Rss:":
            kinds[kind] += int(fields[1]) / 1024
        elif not fields[0].endswith(":"):  # a mapping's header: address range, perms, offset, dev, inode[, name]
            name = fields[5] if len(fields) > 5 else ""
            start = int(fields[0].split("-")[0], 16)
            if name == "[heap]":
                kind = "main heap"
            elif name:
                kind = "files" if name.startswith("/") else "other anonymous"
            else:
                kind = "thread arenas" if start % ARENA_ALIGNMENT == 0 else "other anonymous"
    return kinds


def sqlite_heap() -> tuple[int, int]:
    """SQLite's own heap in this process, every connection's (page caches, schemas, prepared
    statements): bytes in use and the high-water mark (`sqlite3_memory_used`, `..._highwater`)."""
    name = ctypes.util.find_library("sqlite3")
    library = ctypes.CDLL(name) if name else None
    library_version = library.sqlite3_libversion if library else None
    if library is None or library_version is None:
        raise RuntimeError("no shared SQLite library found")
    library_version.restype = ctypes.c_char_p
    if library_version().decode() != sqlite3.sqlite_version:  # another copy than Python's
        raise RuntimeError(f"the shared SQLite library is not the one Python's sqlite3 uses ({sqlite3.sqlite_version})")
    library.sqlite3_memory_used.restype = ctypes.c_int64
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    return library.sqlite3_memory_used(), library.sqlite3_memory_highwater(0)
