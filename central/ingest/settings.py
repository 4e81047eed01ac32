"""The ingest's settings, each with a working default (`central/bootstrap.py` reads them from the
environment; docs/configuration.md lists the variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class IngestLimits:
    max_skew_ms: int = 5 * 60 * 1000
    max_evidence_bytes: int = 4 * 1024 * 1024
    max_batch: int = 256
    #: Threads checking a large batch in parallel (signature verification runs outside the GIL).
    verify_threads: int = min(4, os.cpu_count() or 1)
