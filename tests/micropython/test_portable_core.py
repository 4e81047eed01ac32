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

from speedledger import layout
from speedledger.edge.core.journal import LOG_NAME, Journal
from speedledger.edge.signing import CryptographySigner, verify
from speedledger.shared import canonical, keys
from tests.conftest import missing_dependency
from tests.edge.test_sntp import GIVEN as SNTP_GIVEN
from tests.micropython.radar_scenario import run_radar_scenario
from tests.micropython.sntp_scenario import run_sntp_scenario

pytestmark = pytest.mark.micropython

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
RFC8032_TEST1_SIGNATURE_OF_EMPTY = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def run_on_micropython(tmp_path: Path, given: dict[str, Any], script: str = "portable_core_check.py") -> Any:
    """Run `script` (in this folder) on MicroPython with `given` as /input.json; its `RESULT` line, parsed."""
    node = shutil.which("node")
    if node is None:
        missing_dependency("node (nodejs 20)")
    if not PACKAGE.exists():
        missing_dependency("npm package @micropython/micropython-webassembly-pyscript (run `npm ci`)")
    (tmp_path / "input.json").write_text(json.dumps(given))
    files = [[str(ROOT / source), "/lib/" + target] for target, source in layout.board_files().items()]
    for scenario in ("radar_scenario.py", "sntp_scenario.py"):
        files.append([str(HERE / scenario), "/lib/" + scenario])
    files.append([str(tmp_path / "input.json"), "/input.json"])
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": files, "main": str(HERE / script)}))
    completed = subprocess.run(
        [node, str(HERE / "run.mjs"), str(manifest)], capture_output=True, text=True, timeout=240, check=False
    )
    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, completed.stdout + completed.stderr
    return json.loads(lines[-1][len("RESULT ") :])


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


@pytest.fixture(scope="module")
def given(contract_vectors: dict[str, Any]) -> dict[str, Any]:
    """The device script's inputs (/input.json)."""
    genuine, central_key = central_config()
    key_pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    return {
        "vectors": contract_vectors,
        "config": genuine,
        "tampered_config": genuine.replace('"speed_limit_kmh":70', '"speed_limit_kmh":130'),
        "central_public_key_b64": central_key,
        "key_pem": key_pem,
        "sntp": SNTP_GIVEN,
    }


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory, given: dict[str, Any]) -> dict[str, Any]:
    """What the device script printed: one run of MicroPython for every test here."""
    return run_on_micropython(tmp_path_factory.mktemp("micropython"), given)


def test_portable_core_runs_identically_on_micropython(
    tmp_path: Path, contract_vectors: dict[str, Any], given: dict[str, Any], device: dict[str, Any]
) -> None:
    radar_key = serialization.load_pem_private_key(given["key_pem"].encode(), password=None)
    assert isinstance(radar_key, Ed25519PrivateKey)
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
    assert device["outbox_sent_before_due"] == 4, "nothing is re-sent within the wait an ack restarted"
    assert len(device["outbox_topics"]) == 6, "after the resend delay only the unacked event goes again"
    assert device["first_window_sent_before_due"] == 2, "evidence + violation, not re-sent before central's first ack"
    assert device["first_window_sent"] == 4, "re-sent once the first wait (5 min by default) is over"


def test_the_radar_decides_identically_on_micropython(
    tmp_path: Path, given: dict[str, Any], device: dict[str, Any]
) -> None:
    genuine, tampered = given["config"].encode(), given["tampered_config"].encode()
    cpython = run_radar_scenario(
        str(tmp_path / "radar"),
        CryptographySigner.from_seed(bytes.fromhex(given["vectors"]["ed25519_secret_key_hex"])),
        keys.b64decode(given["central_public_key_b64"]),
        verify,
        {"genuine": genuine, "tampered": tampered},
    )

    on_device = device["radar"]
    assert on_device == cpython
    invalid, under_limit, first, second = on_device["messages"]
    assert invalid is None and under_limit is None and first and second
    assert on_device["counters"] == [4, 1, 2, 1, 1]  # passes, invalid, violations, configs applied, refused
    assert on_device["rejected"] == [first] and on_device["pending"] == [2]
    assert json.loads(on_device["journaled"][0])["speed_limit_kmh"] == 70
    assert "warning config refused: config signature does not verify" in on_device["log"]
    assert on_device["restarted_limit"] == 70


def test_the_board_time_sync_reads_sntp_identically_on_micropython(device: dict[str, Any]) -> None:
    """Packet bytes, times and bounds, refusals and the drifting bound: the same as tests/edge/test_sntp.py's."""
    on_device = device["sntp"]
    assert on_device == run_sntp_scenario(SNTP_GIVEN)
    assert on_device["clock"][0] == [None, None, None] and on_device["clock"][-1][1] is None
