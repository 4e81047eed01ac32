"""The violation field spec (shared/violation.py) and the strict wire decoder, case by case."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from speedledger.central.ingest.parse import Rejected, decode_violation
from speedledger.central.ingest.reasons import Reason
from speedledger.shared import violation
from tests.conftest import missing_dependency

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def message(contract_vectors: dict[str, Any]) -> dict[str, Any]:
    return dict(contract_vectors["violation_signed"])


def _rejection(payload: bytes) -> Rejected:
    with pytest.raises(Rejected) as caught:
        decode_violation(payload)
    return caught.value


def test_contract_vector_is_valid(message: dict[str, Any]) -> None:
    violation.validate(message)
    assert decode_violation(json.dumps(message).encode()) == message


def test_unsigned_form_forbids_sig(message: dict[str, Any]) -> None:
    with pytest.raises(violation.ViolationError):
        violation.validate(message, signed=False)
    del message["sig"]
    violation.validate(message, signed=False)


@pytest.mark.parametrize("field", violation.FIELDS)
def test_every_field_is_required(message: dict[str, Any], field: str) -> None:
    del message[field]
    rejection = _rejection(json.dumps(message).encode())
    assert rejection.reason is Reason.INVALID_FIELD
    assert field in rejection.detail


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", 2),
        ("v", 1.0),
        ("v", True),
        ("v", "1"),
        ("seq", 0),
        ("seq", -1),
        ("seq", 2**53),
        ("seq", 42.0),
        ("seq", False),
        ("detected_at_ms", 0),
        ("detected_at_ms", 1764316800123.5),
        ("detected_at_ms", "1764316800123"),
        ("speed_limit_kmh", 0),
        ("speed_limit_kmh", 301),
        ("measured_speed_ckmh", -1),
        ("measured_speed_ckmh", 100_001),
        ("measured_speed_ckmh", 104.32),
        ("plate_confidence_pm", 1001),
        ("plate_confidence_pm", True),
        ("snr_cdb", 20_001),
        ("frames", 0),
        ("event_id", "0193F1A2-7C4E-7D2A-9B1C-5E6F7A8B9C0D"),
        ("event_id", "0193f1a2x7c4e-7d2a-9b1c-5e6f7a8b9c0d"),
        ("event_id", "0193f1a27c4e7d2a9b1c5e6f7a8b9c0d"),
        ("event_id", 42),
        ("radar_id", ""),
        ("radar_id", "x" * 33),
        ("radar_id", "FR_A6"),
        ("radar_id", "FR-A6-é"),
        ("direction", "sideways"),
        ("direction", "Approaching"),
        ("plate", "gz123qk"),
        ("plate", "GZ-123-QK"),
        ("plate", "A" * 13),
        ("plate", "GZ123QKé"),
        ("plate", None),
        ("image_sha256", "A1" * 32),
        ("image_sha256", "a1" * 31),
        ("key_id", "21fe31dfa154a26"),
        ("key_id", "21FE31DFA154A261"),
        ("firmware", ""),
        ("firmware", "1.0\n"),
        ("firmware", "version-ü"),
        ("firmware", "x" * 65),
        ("sig", "not base64"),
        ("sig", "A" * 88),
        ("sig", ["x"]),
    ],
)
def test_bad_field_values(message: dict[str, Any], field: str, value: object) -> None:
    message[field] = value
    rejection = _rejection(json.dumps(message).encode())
    assert rejection.reason is Reason.INVALID_FIELD
    assert rejection.detail.startswith(field + ":")
    # The id is echoed (so the radar gets an ack) only when it is itself well-formed.
    assert rejection.event_id == (message["event_id"] if field != "event_id" else None)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe{}",
        b'{"v": NaN}',
        b'{"v": Infinity}',
        b'{"v": 1, "v": 1}',
        b"[" * 100_00 + b"]" * 100_00,
        b'{"seq": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_payloads(payload: bytes) -> None:
    assert _rejection(payload).reason in (Reason.MALFORMED, Reason.OVERSIZED)


def test_non_ascii_raw_bytes_are_rejected(message: dict[str, Any]) -> None:
    message["firmware"] = "1.0.0-é"
    rejection = _rejection(json.dumps(message, ensure_ascii=False).encode())
    assert rejection.reason is Reason.INVALID_FIELD
    assert rejection.detail.startswith("firmware")


def test_oversized_before_parsing(message: dict[str, Any]) -> None:
    message["padding"] = "x" * violation.MAX_PAYLOAD_BYTES
    rejection = _rejection(json.dumps(message).encode())
    assert rejection.reason is Reason.OVERSIZED
    assert rejection.event_id is None


def test_exactly_the_limit_is_not_oversized(message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    payload = body[:-1] + b" " * (violation.MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(payload) == violation.MAX_PAYLOAD_BYTES
    assert decode_violation(payload) == message


def test_later_optional_fields_are_tolerated_within_bounds(message: dict[str, Any]) -> None:
    message["lane"] = 2
    message["site_note"] = "north exit"
    assert decode_violation(json.dumps(message).encode())["lane"] == 2
    for bad in ({"Lane": 1}, {"lane": 1.5}, {"lane": True}, {"lane": [1]}, {"note": "é"}):
        with pytest.raises(violation.ViolationError):
            violation.validate({**message, **bad})
    many = {f"extra_{index}": index for index in range(violation.MAX_EXTRA_FIELDS + 1)}
    with pytest.raises(violation.ViolationError):
        violation.validate({**message, **many})


def test_portable_module_runs_under_micropython(message: dict[str, Any]) -> None:
    """The same file validates the same message on the device (MicroPython WebAssembly port)."""
    node = shutil.which("node")
    port = ROOT / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"
    if node is None or not port.exists():
        missing_dependency("node and the MicroPython wasm port (npm ci)")
    cases = json.dumps([message, dict(message, seq=True)])
    script = f"""
import {{ loadMicroPython }} from {json.dumps(str(port))};
import fs from "fs";
const out = [];
const mp = await loadMicroPython({{ stdout: (line) => out.push(line) }});
mp.FS.writeFile("/violation.py", fs.readFileSync({json.dumps(str(ROOT / "shared/violation.py"))}));
mp.FS.writeFile("/cases.json", {json.dumps(cases)});
mp.runPython(`
import sys, json
sys.path.append("/")
import violation
good, bad = json.load(open("/cases.json"))
violation.validate(good)
print("ok")
try:
    violation.validate(bad)
except violation.ViolationError as error:
    print("rejected", error.field)
`);
console.log(out.join(" "));
"""
    result = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["ok", "rejected", "seq"]
