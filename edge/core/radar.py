"""The radar's decisions, written once for the Linux agent and the MicroPython board. MicroPython-safe.

    valid pass -> speed policy (central-signed limit) -> evidence (plate, JPEG; none on a board)
      -> violation (seq from the journal) -> Ed25519 signature -> journal (fsync)
    and, when the config says `report_passages` (section control), for every plate read with an image:
      -> passage (same seq counter, clock uncertainty from the time sync) -> signature -> journal

A violation is journaled before anything is published (the `Outbox` publishes from the journal),
so a crash or power cut anywhere after the signature loses nothing. Acks go to the outbox; a
central-signed config is verified, applied and saved beside the journal, and re-verified when the
radar starts again.
"""

import binascii
import hashlib

from speedledger.shared import topics

from . import passage
from .config import ConfigError, StaleConfig
from .journal import replace_durably
from .violation import build, payload, sign, snr_cdb, speed_ckmh, uuid7

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import ConfigState
    from .journal import Journal
    from .outbox import Outbox
    from .ports import Log, Signer, TimeSync
    from .tracker import VehiclePass

CONFIG_FILE = "config.json"


class PrintLog:
    """A `Log` for ports without `logging` (a MicroPython board): messages on the console."""

    def debug(self, message: str, *args: object) -> None:
        pass

    def info(self, message: str, *args: object) -> None:
        print(_format(message, args))

    def warning(self, message: str, *args: object) -> None:
        print("warning: " + _format(message, args))

    def error(self, message: str, *args: object) -> None:
        print("error: " + _format(message, args))


def _format(message: str, args: tuple) -> str:
    """%-style like `logging`: a message without arguments is printed as it is."""
    return message % args if args else message


def image_sha256(jpeg: bytes) -> str:
    """The contract's `image_sha256`: lowercase hex, "" without an image."""
    return binascii.hexlify(hashlib.sha256(jpeg).digest()).decode() if jpeg else ""


class RadarStats:
    def __init__(self) -> None:
        self.passes = 0
        self.invalid_passes = 0
        self.violations = 0
        self.passages = 0
        #: Passages not sent because the clock had no valid time (CONTRACT §6).
        self.passages_without_time = 0
        self.configs_applied = 0
        self.configs_refused = 0
        #: event_ids central rejected.
        self.rejected: list[str] = []


class Radar:
    """Decides, signs and journals violations; routes acks and config from central.

    `random_bytes(n)` feeds the event ids (`os.urandom` where the port has it). Subclasses that
    have a camera override `evidence`. Without a `time_sync` the radar never reports passages.
    """

    def __init__(
        self,
        radar_id: str,
        firmware: str,
        signer: "Signer",
        journal: "Journal",
        outbox: "Outbox",
        config: "ConfigState",
        log: "Log",
        random_bytes: "Callable[[int], bytes]",
        time_sync: "TimeSync | None" = None,
    ) -> None:
        self.radar_id = radar_id
        self.firmware = firmware
        self.signer = signer
        self.journal = journal
        self.outbox = outbox
        self.config = config
        self.log = log
        self.random_bytes = random_bytes
        self.time_sync = time_sync
        self.stats = RadarStats()

    def evidence(self, t_ms: int) -> tuple[str, int, bytes]:
        """(normalised plate, confidence per mille, JPEG) for the pass at stream time `t_ms`; none here."""
        return "", 0, b""

    def on_pass(self, vehicle_pass: "VehiclePass", detected_at_ms: int) -> dict | None:
        """Journal a signed violation for a valid pass over the limit, and a passage when the config asks
        for them; returns the violation or None."""
        self.stats.passes += 1
        if not vehicle_pass.valid:
            self.stats.invalid_passes += 1
            self.log.info("pass at %d ms not used: %s", vehicle_pass.t_ms, vehicle_pass.invalid)
            return None
        measured = speed_ckmh(vehicle_pass.speed_kmh)
        violating = self.config.policy.is_violation(measured)
        if not violating and not self.config.report_passages:
            return None
        plate, plate_confidence_pm, jpeg = self.evidence(vehicle_pass.t_ms)
        message = None
        if violating:
            message = self._violation(vehicle_pass, detected_at_ms, measured, plate, plate_confidence_pm, jpeg)
        if self.config.report_passages and plate and jpeg:
            self._passage(vehicle_pass, detected_at_ms, plate, plate_confidence_pm, jpeg)
        return message

    def _violation(
        self,
        vehicle_pass: "VehiclePass",
        detected_at_ms: int,
        measured: int,
        plate: str,
        plate_confidence_pm: int,
        jpeg: bytes,
    ) -> dict:
        seq = self.journal.next_seq
        message = sign(
            build(
                uuid7(detected_at_ms, self.random_bytes(10)),
                self.radar_id,
                seq,
                detected_at_ms,
                self.config.policy.speed_limit_kmh,
                measured,
                vehicle_pass.direction,
                plate,
                plate_confidence_pm,
                image_sha256(jpeg),
                snr_cdb(vehicle_pass.snr_db),
                vehicle_pass.frames,
                self.firmware,
                self.signer.key_id,
            ),
            self.signer,
        )
        self.journal.append(message["event_id"], seq, payload(message), jpeg)
        self.stats.violations += 1
        return message

    def _passage(
        self,
        vehicle_pass: "VehiclePass",
        passed_at_ms: int,
        plate: str,
        plate_confidence_pm: int,
        jpeg: bytes,
    ) -> None:
        """Journal a signed passage, unless the clock has no valid time (then none: CONTRACT §6)."""
        uncertainty_ms = self.time_sync.uncertainty_ms() if self.time_sync is not None else None
        if uncertainty_ms is None or uncertainty_ms > passage.spec.MAX_CLOCK_UNCERTAINTY_MS:
            self.stats.passages_without_time += 1
            self.log.warning("passage at %d ms not sent: the clock has no valid time", vehicle_pass.t_ms)
            return
        seq = self.journal.next_seq
        message = sign(
            passage.build(
                uuid7(passed_at_ms, self.random_bytes(10)),
                self.radar_id,
                seq,
                passed_at_ms,
                uncertainty_ms,
                vehicle_pass.direction,
                plate,
                plate_confidence_pm,
                image_sha256(jpeg),
                self.firmware,
                self.signer.key_id,
            ),
            self.signer,
        )
        self.journal.append(message["event_id"], seq, payload(message), jpeg)
        self.stats.passages += 1

    def on_message(self, topic: str, body: bytes) -> None:
        if topic == topics.acks(self.radar_id):
            ack = self.outbox.on_ack(body)
            if ack is not None and ack.result == "rejected":
                self.stats.rejected.append(ack.event_id)
                self.log.error("central rejected %s (seq %d): %s", ack.event_id, ack.seq, ack.reason)
        elif topic == topics.config(self.radar_id):
            self.apply_config(body, True)

    def apply_config(self, body: bytes, persist: bool) -> bool:
        """Verify and apply a central config; with `persist`, save it for the next start."""
        try:
            self.config.apply(body)
        except StaleConfig:
            self.log.debug("config not newer than the one in force (retained copy after a reconnect)")
            return False
        except ConfigError as error:
            self.stats.configs_refused += 1
            self.log.warning("config refused: %s", error)
            return False
        self.stats.configs_applied += 1
        self.log.info("config applied: limit %d km/h", self.config.policy.speed_limit_kmh)
        if persist:
            replace_durably(self._config_path(), body)
        return True

    def load_saved_config(self) -> None:
        """Re-verify and apply the config an earlier run saved, if there is one."""
        try:
            with open(self._config_path(), "rb") as handle:
                body = handle.read()
        except OSError:
            return
        self.apply_config(body, False)

    def _config_path(self) -> str:
        return self.journal.directory + "/" + CONFIG_FILE
