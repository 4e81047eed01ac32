"""`make demo`: the whole system on one machine with the zero-setup defaults, under simulated traffic.

Runs the shipped `demo` scenario with the traffic simulator: the embedded MQTT broker and central
(SQLite) as real processes, four real radar agents (`speedledger edge run`) fed synthesised IQ and
rendered camera frames, two of them a section (average-speed control), registration over the REST
API, and central killed with -9 and restarted mid-run. Then it prints the ground-truth report's
verdict and location, a car that braked for both radars of the section and was still fined for its
average speed beside a compliant one, the offline verification of a spot and a section infraction's
evidence, the dashboard and Swagger URLs and an admin token; in a terminal central keeps running
until Ctrl+C. Everything lives in ./demo and is thrown away at the next run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import Counter
from rich.console import Console

from speedledger.central.sections.domain import max_travel_ms
from speedledger.central.sections.forgetting import PASSAGES_FORGOTTEN, WINDOWS_CLOSED
from speedledger.central.sections.retention import HOUR_MS
from speedledger.simulator import deployment, report, report_html
from speedledger.simulator.deployment import Deployment
from speedledger.simulator.processes import wait_for
from speedledger.simulator.run import RunRecord, progress_bar, run_scenario, stream_start_ms
from speedledger.simulator.scenario import Scenario, load

WORKDIR = Path("demo")
SCENARIO = "demo"
SPEEDUP = 3.0  # a minute of traffic in about twenty seconds, where the CPU allows
#: Beyond the stream and the longest pairing look-back, how long the demo's retention window stays open
#: for the pairs to be decided (the run, its kill -9 of central included, takes well under a minute).
RETENTION_MARGIN_MS = 30_000

console = Console(width=max(100, Console().width))


def show_token(out: Console, base_url: str, token: str) -> None:
    """Where to look, then the admin token alone on its line, never wrapped by the console (to copy)."""
    out.print(f"Dashboard: {base_url}/   Swagger UI: {base_url}/docs   (sign in with this admin token):")
    out.print(token, soft_wrap=True, highlight=False)


def is_compliant(trip: dict[str, Any]) -> bool:
    """A trip owed nothing, given nothing, both of whose passages central received (so has them to forget)."""
    return not trip["owed"] and not trip["infractions"] and trip["entry_passage"] and trip["exit_passage"]


def show_section(result: dict[str, Any], record: RunRecord) -> None:
    """Per section: what the truth owed and central found, a car fined although it braked for both radars,
    and a compliant car."""
    counts, trips = result["sections"]["counts"], result["sections"]["trips"]
    fines = {item["infraction_id"]: item for item in record.infractions}
    for section in record.scenario.sections:
        console.print(
            f"Section {section.id} ({section.entry} to {section.exit}, {section.distance_m} m, "
            f"{section.speed_limit_kmh} km/h): {counts['trips']} trips, {counts['expected']} owed an infraction, "
            f"{counts['pairable']} of them with both plates read, {counts['found']} fined, {counts['false']} false"
        )
        mine = [trip for trip in trips if trip["section_id"] == section.id]
        braked = next((t for t in mine if t["infractions"] and not t["spot_violation"]), None)
        compliant = next((t for t in mine if is_compliant(t)), None)
        for trip, verdict in ((braked, "fined"), (compliant, "compliant")):
            if trip is None:
                continue
            line = (
                f"  {trip['plate']}: {trip['entry_speed_kmh']:.0f} km/h at the entry, {trip['exit_speed_kmh']:.0f} at "
                f"the exit, {trip['true_average_kmh']:.1f} km/h average"
            )
            if verdict == "fined":
                fine = fines[trip["infractions"][0]]
                line += f": section infraction at {fine['average_speed_kmh']} km/h, {fine['fine_eur']} EUR"
            console.print(line + (" (no spot violation)" if verdict == "fined" else ": compliant, no infraction"))


def verify_evidence(target: Deployment, record: RunRecord, infraction: dict[str, Any]) -> None:
    """Export the infraction's evidence and check it offline with `speedledger verify`, as a court would: with
    its radar's key, or for a section infraction both radars' keys."""
    url = f"/api/v1/infractions/{infraction['infraction_id']}/export"
    export = WORKDIR / f"infraction-{infraction['infraction_id']}.zip"
    with target.api() as api:
        wait_for("the evidence export", lambda: api.get(url).status_code == 200)  # once its images have arrived
        export.write_bytes(api.get(url).content)
    if infraction["kind"] == "section":
        section = record.scenario.section(str(infraction["section_id"]))
        radars = [section.entry, section.exit]
    else:
        radars = [str(infraction["radar_id"])]
    keys = [argument for radar_id in radars for argument in ("--radar-key", record.registered.public_keys[radar_id])]
    command = ["verify", str(export), *keys, "--central-key", record.registered.central_key]
    verdict = subprocess.run(
        [sys.executable, "-m", "speedledger", *command], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    shown = " ".join(["--radar-key ..."] * len(radars))
    console.print(f"[bold]$ speedledger verify {export} {shown} --central-key ...[/]: {verdict[-1]}")


def demo_retention_ms(scenario: Scenario, start_ms: int) -> int:
    """A retention (`SPEEDLEDGER_PASSAGE_RETENTION_HOURS`, a day by default) of a few minutes, whose window
    holds the whole stream and every pairing look-back, so the section's pairs are all decided while it is
    open, and ends 2 to 3 s after the traffic: the compliant car's passages are forgotten one retention
    later (docs/sections.md, Privacy), and the demo need not wait for up to two."""
    duration_ms = round(scenario.duration_s * 1000)
    end_ms = start_ms + duration_ms
    look_back_ms = max(max_travel_ms(section.distance_m) for section in scenario.sections)
    shortest = duration_ms + look_back_ms + RETENTION_MARGIN_MS
    # Windows are [k R, (k + 1) R): the next multiple of R after the stream's end must come 2 to 3 s after it.
    return next(retention for retention in range(shortest, 2 * shortest) if 2_000 <= -end_ms % retention <= 3_000)


def metric(api: httpx.Client, counter: Counter) -> float:
    """The counter's value on central's /metrics (0 before it is first counted)."""
    name = next(iter(counter.collect())).name + "_total"
    for line in api.get("/metrics").raise_for_status().text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def show_forgetting(target: Deployment, record: RunRecord, result: dict[str, Any], closes_at_ms: int) -> None:
    """Wait for the retention window to close, then show that the compliant car's passages can no longer be
    read (their window's key destroyed, their images in no file of central's databases) while the section
    infraction's evidence is intact."""
    trips = result["sections"]["trips"]
    compliant = next((t for t in trips if is_compliant(t)), None)
    fined = next((i for i in record.infractions if i["kind"] == "section" and i["owner_id"]), None)
    if compliant is None or fined is None:
        return
    wait_s = max(0.0, closes_at_ms / 1000 - time.time())
    console.print(
        f"Forgetting: passages that led to no infraction, {compliant['plate']}'s among them, stay readable until "
        f"their retention window closes, in {wait_s:.0f} s (a day by default); waiting..."
    )
    with target.api() as api:
        wait_for("the passages' retention window to close", lambda: metric(api, WINDOWS_CLOSED) >= 1, wait_s + 60)
        forgotten = metric(api, PASSAGES_FORGOTTEN)
    section = record.scenario.section(str(fined["section_id"]))
    images = [
        (WORKDIR / "radars" / radar_id / "frames" / f"{round(compliant[f'{end}_t_s'] * 1000)}.jpg").read_bytes()
        for radar_id, end in ((section.entry, "entry"), (section.exit, "exit"))
    ]
    holding = sorted(
        {path.name for path in WORKDIR.glob("central*.db*") for image in images if image in path.read_bytes()}
    )
    console.print(
        f"Window closed, its key destroyed: {forgotten:.0f} passages forgotten; {compliant['plate']}'s two images "
        f"in central's database files: {', '.join(holding) or 'none'}. The section infraction keeps its evidence:"
    )
    verify_evidence(target, record, fined)


def main() -> None:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    scenario = load(SCENARIO)
    console.rule(f"speedledger demo: scenario {scenario.name}")
    console.print(scenario.description)
    start_ms = stream_start_ms(scenario)
    retention_ms = demo_retention_ms(scenario, start_ms)
    closes_at_ms = (start_ms // retention_ms + 2) * retention_ms  # its window's end, plus the retention
    settings = {"SPEEDLEDGER_PASSAGE_RETENTION_HOURS": repr(retention_ms / HOUR_MS)}
    with deployment.local(WORKDIR, settings=settings) as target:
        console.print(f"Embedded broker at {target.mqtt_url}; central (SQLite) at {target.base_url}")
        with progress_bar() as bar:
            record = run_scenario(scenario, target, WORKDIR, SPEEDUP, bar, start_ms=start_ms)
        result = report.build(record)
        page = report_html.write(result, WORKDIR)
        for invariant in result["invariants"]:
            mark = "[green]ok[/]  " if invariant["holds"] else "[red]FAIL[/]"
            console.print(f"{mark} {invariant['name']}: {invariant['detail']}")
        counts = result["counts"]
        console.print(
            f"{counts['passes']} passes, {counts['violations_sent']} violations signed and sent, "
            f"{counts['acked']} acknowledged, {counts['infractions']} spot-speed infractions; faults: "
            + ", ".join(fault["kind"] for fault in result["faults"])
        )
        show_section(result, record)
        console.print(f"Report: {page.resolve()} (and report.json beside it)")
        identified = [item for item in record.infractions if item["owner_id"]]
        for kind in ("spot", "section"):  # one of each
            infraction = next((item for item in identified if item["kind"] == kind), None)
            if infraction is not None:
                verify_evidence(target, record, infraction)
        show_forgetting(target, record, result, closes_at_ms)
        show_token(console, target.base_url, target.token)
        if sys.stdin.isatty():
            console.print("Central keeps running. Ctrl+C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    if not result["passed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
