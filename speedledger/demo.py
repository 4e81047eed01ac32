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

from rich.console import Console

from speedledger.simulator import deployment, report, report_html
from speedledger.simulator.deployment import Deployment
from speedledger.simulator.processes import wait_for
from speedledger.simulator.run import RunRecord, progress_bar, run_scenario
from speedledger.simulator.scenario import load

WORKDIR = Path("demo")
SCENARIO = "demo"
SPEEDUP = 3.0  # a minute of traffic in about twenty seconds, where the CPU allows

console = Console(width=max(100, Console().width))


def show_token(out: Console, base_url: str, token: str) -> None:
    """Where to look, then the admin token alone on its line, never wrapped by the console (to copy)."""
    out.print(f"Dashboard: {base_url}/   Swagger UI: {base_url}/docs   (sign in with this admin token):")
    out.print(token, soft_wrap=True, highlight=False)


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
        compliant = next((t for t in mine if not t["owed"] and not t["infractions"]), None)
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


def main() -> None:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    scenario = load(SCENARIO)
    console.rule(f"speedledger demo: scenario {scenario.name}")
    console.print(scenario.description)
    with deployment.local(WORKDIR) as target:
        console.print(f"Embedded broker at {target.mqtt_url}; central (SQLite) at {target.base_url}")
        with progress_bar() as bar:
            record = run_scenario(scenario, target, WORKDIR, SPEEDUP, bar)
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
