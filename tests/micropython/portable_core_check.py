"""Executed ON MicroPython by tests/micropython/test_portable_core.py (not collected by pytest).

Reads /input.json, exercises the portable core and prints one line `RESULT <json>` that the CPython
side compares with its own results byte for byte.
"""

import binascii
import json
import os
import sys

from radar_scenario import run_radar_scenario
from sntp_scenario import run_sntp_scenario

from speedledger.edge.board.frontend import UartFrontEnd
from speedledger.edge.core import ed25519
from speedledger.edge.core.config import ConfigError, ConfigState
from speedledger.edge.core.journal import LOG_NAME, Journal
from speedledger.edge.core.keyfile import seed_from_pem
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.violation import SpeedPolicy, build, payload, sign, speed_ckmh
from speedledger.shared import canonical, keys
from speedledger.shared import violation as spec

with open("/input.json") as handle:
    given = json.load(handle)
vectors = given["vectors"]
result = {"implementation": sys.implementation.name}

# Canonical bytes of every contract case and of the unsigned violation; rejections.
result["canonical"] = [canonical.dumps(case["obj"]).decode() for case in vectors["canonical_cases"]]
rejected = []
for bad in vectors["must_reject"]:
    try:
        canonical.dumps(bad)
        rejected.append(False)
    except canonical.CanonicalError:
        rejected.append(True)
result["rejected"] = rejected

# Violation building and signing through the portable Signer (RFC 8032 test 1 key).
seed = bytes.fromhex(vectors["ed25519_secret_key_hex"])
signer = ed25519.Ed25519Signer(seed)
result["public_key_b64"] = keys.b64encode(signer.public_key)
result["rfc8032_empty_sig_hex"] = binascii.hexlify(signer.sign(b"")).decode()
fields = {}
for name in vectors["violation_unsigned"]:
    if name != "v":
        fields[name] = vectors["violation_unsigned"][name]
message = build(**fields)
result["signing_bytes"] = canonical.signing_bytes(message).decode()
signed = sign(message, signer)
spec.validate(signed)
result["signed_payload"] = payload(signed).decode()
result["verifies"] = ed25519.verify(signer.public_key, canonical.signing_bytes(signed), keys.b64decode(signed["sig"]))

# The key file `speedledger keys generate` writes, read without a crypto library.
result["key_file_public_key_b64"] = keys.b64encode(ed25519.Ed25519Signer(seed_from_pem(given["key_pem"])).public_key)

# Device policy.
result["retained"] = [
    SpeedPolicy(example["limit"]).retained_kmh(example["measured_speed_ckmh"])
    for example in vectors["retained_speed_examples"]
]

# Central-signed config: the genuine one applies, the tampered one is refused.
state = ConfigState("R-1", SpeedPolicy(90), keys.b64decode(given["central_public_key_b64"]), ed25519.verify)
state.apply(given["config"].encode())
result["config_limit"] = state.policy.speed_limit_kmh
try:
    state.apply(given["tampered_config"].encode())
    result["tampered_config"] = "applied"
except ConfigError as error:
    result["tampered_config"] = str(error)


# Journal on the interpreter's own filesystem: power cuts at every byte of the last record.
def event_id(n):
    return "00000000-0000-4000-8000-" + f"{n:012x}"


def fill(directory, count):
    journal = Journal(directory)
    for n in range(1, count + 1):
        journal.append(event_id(n), n, canonical.dumps({"event_id": event_id(n), "seq": n}), b"jpg" * n)
    return journal


journal = fill("/j0", 2)
start = journal.size
journal.append(event_id(3), 3, canonical.dumps({"event_id": event_id(3), "seq": 3}), b"jpg" * 3)
journal.close()
with open("/j0/" + LOG_NAME, "rb") as handle:
    data = handle.read()
survivors = []
for cut in range(start, len(data) + 1):
    directory = "/cut" + str(cut)
    os.mkdir(directory)
    with open(directory + "/" + LOG_NAME, "wb") as handle:
        handle.write(data[:cut])
    reopened = Journal(directory)
    survivors.append([event.seq for event in reopened.pending()])
    reopened.close()
result["journal_cut_survivors"] = survivors
flipped = bytearray(data)
flipped[start + 7] ^= 0x04
os.mkdir("/flip")
with open("/flip/" + LOG_NAME, "wb") as handle:
    handle.write(flipped)
reopened = Journal("/flip")
result["journal_flip"] = {
    "pending": [event.seq for event in reopened.pending()],
    "damage": [damage.reason for damage in reopened.damage],
    "next_seq": reopened.next_seq,
}


# Delivery logic with a fake transport.
class Transport:
    def __init__(self):
        self.sent = []

    def publish(self, topic, data, qos, retain):
        self.sent.append(topic)
        return True


transport = Transport()
outbox = Outbox(fill("/outbox", 2), "R-1", transport, resend_ms=100)
outbox.on_connect(0)
outbox.poll(0)
acked = outbox.on_ack(json.dumps({"event_id": event_id(1), "seq": 1, "result": "accepted"}).encode())
outbox.poll(50)  # the ack restarts the wait, which central's 50 ms answer stretches to 100 ms
outbox.poll(149)
result["outbox_sent_before_due"] = len(transport.sent)
outbox.poll(150)
result["outbox_topics"] = transport.sent
result["outbox_acked"] = acked.result if acked else None

# Before central's first ack on a connection the re-send waits first_resend_ms (default 5 min), not resend_ms.
first = Transport()
outbox = Outbox(fill("/first", 1), "R-1", first, resend_ms=100)
outbox.on_connect(0)
outbox.poll(0)
outbox.poll(299_999)
result["first_window_sent_before_due"] = len(first.sent)
outbox.poll(300_000)
result["first_window_sent"] = len(first.sent)


# Tracker decision: UART frames of one vehicle at 104.3 km/h through the board's front end.
class Uart:
    def __init__(self):
        self.lines = []

    def any(self):
        return len(self.lines)

    def readline(self):
        return self.lines.pop(0)


uart = Uart()
frontend = UartFrontEnd(uart)
passes = []
for frame in range(60):
    uart.lines.append(b"104.3 25.0\n" if frame < 25 else b"\n")
    passes.extend(frontend.poll(20 * (frame + 1)))
result["tracker_passes"] = [[speed_ckmh(p.speed_kmh), p.direction, p.frames, p.valid] for p in passes]

# The portable Radar: decisions, config routing and persistence, ack routing (compared with CPython).
result["radar"] = run_radar_scenario(
    "/radar",
    signer,
    keys.b64decode(given["central_public_key_b64"]),
    ed25519.verify,
    {"genuine": given["config"].encode(), "tampered": given["tampered_config"].encode()},
)

# The board's SNTP request, answers read into a time and bound, the bound over time (compared with CPython).
result["sntp"] = run_sntp_scenario(given["sntp"])

print("RESULT " + json.dumps(result))
