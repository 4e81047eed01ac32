"""One scenario through the portable `Radar`, run unchanged on MicroPython and on CPython.

tests/micropython/test_portable_core.py runs it on both interpreters and compares the results: the
same passes, configs and acks must give the same journaled bytes, counters, log lines and, after a
restart, the same saved config.
"""

import json

from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.radar import Radar
from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.core.violation import SpeedPolicy
from speedledger.shared import topics

RADAR_ID = "R-1"
START_MS = 1_764_316_800_000


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list = []

    def _add(self, level: str, message: str, args: tuple) -> None:
        self.lines.append(level + " " + message % args)

    def debug(self, message: str, *args: object) -> None:
        self._add("debug", message, args)

    def info(self, message: str, *args: object) -> None:
        self._add("info", message, args)

    def warning(self, message: str, *args: object) -> None:
        self._add("warning", message, args)

    def error(self, message: str, *args: object) -> None:
        self._add("error", message, args)


class OfflineTransport:
    def publish(self, topic: str, data: bytes, qos: int, retain: bool) -> bool:
        return False


def not_random(count: int) -> bytes:
    return bytes(range(count))


def run_radar_scenario(directory: str, signer: object, central_key: bytes, verify: object, configs: dict) -> dict:
    """`configs`: {"genuine": bytes (limit 70), "tampered": bytes}; returns what both sides compare."""
    log = RecordingLog()

    def start() -> Radar:
        journal = Journal(directory)
        config = ConfigState(RADAR_ID, SpeedPolicy(90), central_key, verify)
        outbox = Outbox(journal, RADAR_ID, OfflineTransport())
        radar = Radar(RADAR_ID, "fw-1", signer, journal, outbox, config, log, not_random)
        radar.load_saved_config()
        return radar

    radar = start()
    passes = [
        VehiclePass(1000, 120.0, "approaching", 20.0, 12, 900, 1100, "shared beam"),
        VehiclePass(2000, 94.9, "approaching", 20.0, 12, 1900, 2100),  # retained 89 km/h: under 90
        VehiclePass(3000, 96.2, "receding", 18.3, 20, 2900, 3100),  # retained 91 km/h
    ]
    messages = [radar.on_pass(vehicle_pass, START_MS + vehicle_pass.t_ms) for vehicle_pass in passes]
    for name in ("genuine", "tampered", "genuine"):  # applied, refused, stale
        radar.on_message(topics.config(RADAR_ID), configs[name])
    slower = VehiclePass(4000, 80.0, "approaching", 15.0, 9, 3900, 4100)  # retained 75 km/h: over 70 only
    messages.append(radar.on_pass(slower, START_MS + slower.t_ms))
    first = messages[2]
    assert first is not None
    ack = {"event_id": first["event_id"], "seq": first["seq"], "result": "rejected", "reason": "test"}
    radar.on_message(topics.acks(RADAR_ID), json.dumps(ack).encode())
    stats = radar.stats
    counters = [stats.passes, stats.invalid_passes, stats.violations, stats.configs_applied, stats.configs_refused]
    pending = [event.seq for event in radar.journal.pending()]
    journaled = [radar.journal.payload(event).decode() for event in radar.journal.pending()]
    radar.journal.close()
    restarted = start()
    restarted.journal.close()
    return {
        "messages": [None if message is None else message["event_id"] for message in messages],
        "journaled": journaled,
        "pending": pending,
        "counters": counters,
        "rejected": stats.rejected,
        "log": log.lines,
        "restarted_limit": restarted.config.policy.speed_limit_kmh,
    }
