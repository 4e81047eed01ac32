"""Executed ON MicroPython by tests/micropython/test_ed25519_vectors.py (not collected by pytest).

Reads /input.json `{"cases": [[public_hex, message_hex, signature_hex], ...]}` and prints
`RESULT [true|false, ...]`: the portable verifier's answer for each case.
"""

import binascii
import json

from speedledger.edge.core import ed25519

with open("/input.json") as handle:
    cases = json.load(handle)["cases"]
answers = [ed25519.verify(*[binascii.unhexlify(field) for field in case]) for case in cases]
print("RESULT " + json.dumps(answers))
