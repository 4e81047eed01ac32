"""The board's SNTP arithmetic (`edge/core/sntp.py`) on given packets, run on CPython by
tests/edge/test_sntp.py and on MicroPython by portable_core_check.py: the results must be identical.
MicroPython-safe: no dataclasses, no typing at run time."""

import binascii

from speedledger.edge.core.sntp import SntpClock, SntpError, read_response, request


def run_sntp_scenario(given: dict) -> dict:
    """`given`: {"nonce_hex", "answers": [[response hex, round trip ms], ...], "clock": [[op, ...], ...]}.

    Each answer gives [unix ms, bound ms] or the SntpError's text. The clock script runs on a fake
    monotonic counter: ["at", ms] moves it, ["reading", unix_ms, bound_ms] offers a reading (whether it
    was taken), ["read"] records [now_ms, uncertainty_ms, valid_since_ms]."""
    nonce = binascii.unhexlify(given["nonce_hex"])
    result: dict = {"request_hex": binascii.hexlify(request(nonce)).decode()}
    answers = []
    for response_hex, round_trip_ms in given["answers"]:
        try:
            answers.append(list(read_response(binascii.unhexlify(response_hex), nonce, round_trip_ms)))
        except SntpError as error:
            answers.append(str(error))
    result["answers"] = answers
    now = [0]
    clock = SntpClock(lambda: now[0])
    steps: list = []
    for step in given["clock"]:
        if step[0] == "at":
            now[0] = step[1]
        elif step[0] == "reading":
            steps.append(clock.reading(step[1], step[2], now[0]))
        else:
            steps.append([clock.now_ms(), clock.uncertainty_ms(), clock.valid_since_ms])
    result["clock"] = steps
    return result
