"""The portable core on the real MicroPython interpreter (WebAssembly port, under node).

Same inputs on both interpreters; canonical bytes, signatures and journal behaviour must be identical.
"""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.edge.core.journal import LOG_NAME, Journal
from speedledger.edge.signing import CryptographySigner
from speedledger.shared import canonical, keys
from tests.conftest import missing_dependency

pytestmark = pytest.mark.micropython

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
# Everything the device imports, at the path it has in the `speedledger` namespace.
PORTABLE = {
    "speedledger/__init__.py": None,
    "speedledger/shared/__init__.py": None,
    "speedledger/shared/canonical.py": "shared/canonical.py",
    "speedledger/shared/keys.py": "shared/keys.py",
    "speedledger/shared/violation.py": "shared/violation.py",
    "speedledger/edge/__init__.py": None,
    "speedledger/edge/core/__init__.py": "edge/core/__init__.py",
    "speedledger/edge/core/ed25519.py": "edge/core/ed25519.py",
    "speedledger/edge/core/journal.py": "edge/core/journal.py",
    "speedledger/edge/core/outbox.py": "edge/core/outbox.py",
    "speedledger/edge/core/config.py": "edge/core/config.py",
    "speedledger/edge/core/violation.py": "edge/core/violation.py",
    "speedledger/shared/topics.py": "shared/topics.py",
    "speedledger/edge/core/keyfile.py": "edge/core/keyfile.py",
    "speedledger/edge/core/tracker.py": "edge/core/tracker.py",
    "speedledger/edge/board/__init__.py": "edge/board/__init__.py",
    "speedledger/edge/board/frontend.py": "edge/board/frontend.py",
}
RFC8032_TEST1_SIGNATURE_OF_EMPTY = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def run_on_micropython(tmp_path: Path, given: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        missing_dependency("node (nodejs 20)")
    if not PACKAGE.exists():
        missing_dependency("npm package @micropython/micropython-webassembly-pyscript (run `npm ci`)")
    empty = tmp_path / "empty.py"
    empty.write_text("")
    (tmp_path / "input.json").write_text(json.dumps(given))
    files = [[str(ROOT / source) if source else str(empty), "/lib/" + target] for target, source in PORTABLE.items()]
    files.append([str(tmp_path / "input.json"), "/input.json"])
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": files, "main": str(HERE / "portable_core_check.py")}))
    completed = subprocess.run(
        [node, str(HERE / "run.mjs"), str(manifest)], capture_output=True, text=True, timeout=240, check=False
    )
    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, completed.stdout + completed.stderr
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return result


def central_config(**changes: Any) -> tuple[str, str]:
    central = CryptographySigner.from_seed(bytes(range(32)))
    config: dict[str, Any] = {
        "v": 1,
        "radar_id": "R-1",
        "speed_limit_kmh": 70,
        "issued_at_ms": 1,
        "key_id": central.key_id,
    }
    config["sig"] = keys.b64encode(central.sign(canonical.signing_bytes(config)))
    genuine = canonical.dumps(config).decode()
    return genuine, keys.b64encode(central.public_key)


def journal_survivors_on_cpython(tmp_path: Path) -> list[list[int]]:
    """The CPython run of the same power-cut sweep the device script does."""

    def body(n: int) -> bytes:
        return canonical.dumps({"event_id": event_id(n), "seq": n})

    journal = Journal(str(tmp_path / "j0"))
    for n in (1, 2):
        journal.append(event_id(n), n, body(n), b"jpg" * n)
    start = journal.size
    journal.append(event_id(3), 3, body(3), b"jpg" * 3)
    journal.close()
    data = (tmp_path / "j0" / LOG_NAME).read_bytes()
    survivors = []
    for cut in range(start, len(data) + 1):
        directory = tmp_path / f"cut{cut}"
        directory.mkdir()
        (directory / LOG_NAME).write_bytes(data[:cut])
        survivors.append([event.seq for event in Journal(str(directory)).pending()])
    return survivors


def event_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012x}"


def test_portable_core_runs_identically_on_micropython(tmp_path: Path, contract_vectors: dict[str, Any]) -> None:
    genuine, central_key = central_config()
    radar_key = Ed25519PrivateKey.generate()
    key_pem = radar_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    tampered = genuine.replace('"speed_limit_kmh":70', '"speed_limit_kmh":130')
    device = run_on_micropython(
        tmp_path,
        {
            "vectors": contract_vectors,
            "config": genuine,
            "tampered_config": tampered,
            "central_public_key_b64": central_key,
            "key_pem": key_pem,
        },
    )

    assert device["implementation"] == "micropython"
    assert device["canonical"] == [
        canonical.dumps(case["obj"]).decode() for case in contract_vectors["canonical_cases"]
    ]
    assert device["canonical"] == [case["bytes"] for case in contract_vectors["canonical_cases"]]
    assert device["rejected"] == [True] * len(contract_vectors["must_reject"])
    assert device["signing_bytes"] == contract_vectors["canonical_bytes_ascii"]
    assert device["public_key_b64"] == contract_vectors["public_key_b64"]
    assert device["rfc8032_empty_sig_hex"] == RFC8032_TEST1_SIGNATURE_OF_EMPTY
    cpython_signed = dict(contract_vectors["violation_unsigned"])
    cpython_signed["sig"] = keys.b64encode(
        CryptographySigner.from_seed(bytes.fromhex(contract_vectors["ed25519_secret_key_hex"])).sign(
            canonical.signing_bytes(contract_vectors["violation_unsigned"])
        )
    )
    assert device["signed_payload"] == canonical.dumps(cpython_signed).decode()
    assert json.loads(device["signed_payload"]) == contract_vectors["violation_signed"]
    assert device["verifies"] is True
    assert device["key_file_public_key_b64"] == keys.b64encode(radar_key.public_key().public_bytes_raw())
    assert device["retained"] == [example["retained"] for example in contract_vectors["retained_speed_examples"]]
    assert device["config_limit"] == 70
    assert "signature" in device["tampered_config"]
    assert device["journal_cut_survivors"] == journal_survivors_on_cpython(tmp_path)
    assert device["journal_cut_survivors"][-1] == [1, 2, 3]
    assert device["journal_flip"] == {"pending": [1, 2], "damage": ["crc"], "next_seq": 3}
    assert device["outbox_topics"][:3] == [
        "speedledger/v1/radars/R-1/evidence/" + event_id(1),
        "speedledger/v1/radars/R-1/violations",
        "speedledger/v1/radars/R-1/evidence/" + event_id(2),
    ]
    assert device["outbox_acked"] == "accepted"
    assert device["tracker_passes"] == [[10430, "approaching", 25, True]]
    assert device["outbox_topics"][-1] == "speedledger/v1/radars/R-1/violations"
    assert len(device["outbox_topics"]) == 6, "after the resend delay only the unacked event goes again"
