"""Decision benchmark: recorded violations -> infractions (process manager + read models), SQLite.

N signed violations are appended as `ViolationRecorded` in batches (what the ingest does), then
the projection runner catches up: the process manager loads each radar and vehicle from the store,
decides and appends the decision, and the read models apply everything. The baseline is the bare
radars read model replaying the same log into a projection that only decodes each event, measured in
the same run on the same database, so the ratio is the cost of deciding per event of plain replay.

    .venv/bin/python bench/domain_bench.py [--violations 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' verified metrology record

from speedledger.central.bootstrap import Settings, bootstrap
from speedledger.central.eventstore.port import NO_STREAM, AppendRequest, RecordedEvent
from speedledger.central.infractions.events import INFRACTION_EVENTS
from speedledger.central.infractions.violations import violation_recorded
from speedledger.central.projections.runner import ProjectionRunner
from speedledger.central.radars.commands import RegisterRadar
from speedledger.central.registration.commands import RegisterOwner, RegisterVehicle
from speedledger.shared import canonical, keys
from tests.fixtures.metrology import VERIFIED

PLATES = [f"AB{index:03d}CD" for index in range(200)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--violations", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        run(Path(directory), args.violations)


def run(directory: Path, count: int) -> None:
    central = bootstrap(Settings(db_url=f"sqlite:///{directory / 'bench.db'}", secret="bench"))
    private_key = Ed25519PrivateKey.generate()
    public_raw = private_key.public_key().public_bytes_raw()
    central.bus.handle(
        RegisterRadar(
            radar_id="R1",
            name="R1",
            latitude=0.0,
            longitude=0.0,
            speed_limit_kmh=90,
            public_key=keys.b64encode(public_raw),
            metrology=(VERIFIED,),
        )
    )
    for plate in PLATES:
        owner_id = central.bus.handle(RegisterOwner(name="Owner", birth_date="1980-01-01", email="o@example.fr"))
        central.bus.handle(
            RegisterVehicle(plate=plate, brand="B", model="M", fiscal_power=5, owner_id=owner_id, registered_at_ms=0)
        )
    now = time.time_ns() // 1_000_000
    requests = []
    for seq in range(1, count + 1):
        message = {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "radar_id": "R1",
            "seq": seq,
            "detected_at_ms": now,
            "speed_limit_kmh": 90,
            "measured_speed_ckmh": 9000 + (seq * 37) % 8000,
            "direction": "approaching",
            "plate": PLATES[seq % len(PLATES)] if seq % 10 else "",
            "plate_confidence_pm": 900,
            "image_sha256": "",
            "snr_cdb": 2000,
            "frames": 10,
            "firmware": "bench",
            "key_id": keys.key_id(public_raw),
        }
        message["sig"] = keys.b64encode(private_key.sign(canonical.signing_bytes(message)))
        stream_id, event = violation_recorded(message, now)
        requests.append(AppendRequest(stream_id, [event], NO_STREAM))
    for start in range(0, len(requests), 500):
        central.store.append_batch(requests[start : start + 500])

    baseline_runner = ProjectionRunner(central.store, [_DecodeOnly()])
    started = time.perf_counter()
    baseline_events = baseline_runner.catch_up()
    baseline_s = time.perf_counter() - started
    baseline_runner.close()

    started = time.perf_counter()
    central.runner.catch_up()
    decided_s = time.perf_counter() - started
    decisions = central.store.last_position() - baseline_events
    central.close()

    print(f"violations: {count}, decisions appended: {decisions}")
    print(f"baseline  (runner replay, decode only): {baseline_events / baseline_s:10.0f} events/s")
    print(f"deciding  (process manager + read models): {count / decided_s:10.0f} violations/s ({decided_s:.2f} s)")
    print(f"ratio: deciding costs {(decided_s / count) / (baseline_s / baseline_events):.1f}x a plain replay per event")


class _DecodeOnly:
    """Baseline: the runner reads and decodes every event and writes nothing but its checkpoint."""

    name = "bench-baseline"
    tables: tuple[Table, ...] = ()

    def bind(self, tables: Mapping[str, Table]) -> _DecodeOnly:
        return self

    def apply(self, conn: Connection, event: RecordedEvent) -> None:
        INFRACTION_EVENTS.decode(event.type, event.data)


if __name__ == "__main__":
    main()
