"""`speedledger sim run`: register, drive the fleet with its faults, wait until every journal is empty, collect.

The run's stream starts `duration` before now, so that no radar, however fast the simulation runs,
dates a violation in central's future; transfers of ownership are registered up front with their
effective time inside the run.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from speedledger.simulator.deployment import Deployment, DeploymentError
from speedledger.simulator.fleet import Journaled, RadarLog, RadarRun, agent_args, journal_dir
from speedledger.simulator.netcut import CuttableLink
from speedledger.simulator.observer import Observer
from speedledger.simulator.processes import wait_for
from speedledger.simulator.registry import Registered, register
from speedledger.simulator.scenario import PROCESS_FAULTS, Scenario
from speedledger.simulator.traffic import Truth, generate

DEPTH_SAMPLE_S = 0.5


class SimulationError(RuntimeError):
    """The simulation itself broke down (not an invariant): one line naming the radar and its log."""


@dataclass
class RunRecord:
    scenario: Scenario
    truth: Truth
    start_ms: int
    speedup: float
    registered: Registered
    radars: dict[str, RadarLog]
    journaled: list[Journaled]
    published: dict[str, float]
    acked: dict[str, tuple[float, str]]
    ack_latencies_ms: list[float]
    infractions: list[dict[str, object]]  # spot and section alike (`kind`)
    #: The signed passages the radars published (section control), by event id.
    passages: dict[str, dict[str, object]] = field(default_factory=dict)
    depth: list[tuple[float, int]] = field(default_factory=list)  # (wall s since start, unacked journaled events)
    faults_applied: list[tuple[float, str]] = field(default_factory=list)
    wall_s: float = 0.0


def stream_start_ms(scenario: Scenario) -> int:
    """When the stream starts (Unix ms): so that it ends a minute before now."""
    return int(time.time() * 1000) - round(scenario.duration_s * 1000) - 60_000


def check_faults(scenario: Scenario, deployment: Deployment) -> None:
    """Refuse before starting when a fault needs a process this deployment does not own."""
    for fault in scenario.faults:
        if fault.kind in PROCESS_FAULTS:
            owner = deployment.central if fault.kind == "kill-central" else deployment.broker
            if owner is None:
                variable = "SPEEDLEDGER_HTTP" if fault.kind == "kill-central" else "SPEEDLEDGER_MQTT"
                raise DeploymentError(f"fault {fault.kind} needs the simulator's own process: unset {variable}")


def fetch_infractions(api: httpx.Client, radar_ids: list[str]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for radar_id in radar_ids:
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"radar_id": radar_id, "limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/api/v1/infractions", params=params).raise_for_status().json()
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return items


def projections_caught_up(api: httpx.Client) -> bool:
    health = api.get("/health").json()
    return health["status"] == "ok" and all(p["lag"] == 0 for p in health["projections"].values())


def run_scenario(
    scenario: Scenario,
    deployment: Deployment,
    workdir: Path,
    speedup: float = 1.0,
    progress: Progress | None = None,
    truth: Truth | None = None,
    start_ms: int | None = None,
) -> RunRecord:
    """Run `scenario` (its generated truth, or `truth`, e.g. a replayed pass log) against `deployment`, its
    stream dated from `start_ms` (default `stream_start_ms`)."""
    check_faults(scenario, deployment)
    workdir = workdir.resolve()  # the agents run in their own folders
    truth = truth if truth is not None else generate(scenario)
    start_ms = start_ms if start_ms is not None else stream_start_ms(scenario)
    with deployment.api() as api:
        registered = register(api, scenario, truth, workdir / "keys", start_ms)
        observer = Observer(deployment.mqtt_url)
        observer.start()
        journaled: list[Journaled] = []
        links = {
            f.radar: CuttableLink(deployment.mqtt_url) for f in scenario.faults if f.kind == "radar-offline" and f.radar
        }
        runs = [
            RadarRun(
                scenario,
                radar,
                [p for p in truth.passes if p.radar_id == radar.id],
                workdir / "radars" / radar.id,
                agent_args(
                    radar,
                    registered.key_files[radar.id],
                    journal_dir(workdir / "radars" / radar.id),
                    links[radar.id].url if radar.id in links else deployment.mqtt_url,
                    registered.central_key,
                ),
                start_ms,
                journaled.append,
                links.get(radar.id),
            )
            for radar in scenario.radars
        ]
        for radar_run in runs:
            radar_run.workdir.mkdir(parents=True, exist_ok=True)
            radar_run.prepare()
        for radar_run in runs:
            radar_run.wait_ready()
        record = RunRecord(
            scenario, truth, start_ms, speedup, registered, {r.radar.id: r.log for r in runs}, journaled,
            observer.published, observer.acked, [], [], observer.passages,
        )  # fmt: skip
        started = time.monotonic()
        threads = [threading.Thread(target=r.run, args=(started, speedup), name=r.radar.id) for r in runs]
        for thread in threads:
            thread.start()
        faults = threading.Thread(target=_apply_faults, args=(scenario, deployment, runs, threads, started, record))
        faults.start()
        _watch(record, observer, api, threads, started, progress)
        faults.join()
        failed = [f"radar {radar_id}: {log.error}" for radar_id, log in record.radars.items() if log.error]
        if failed:
            raise SimulationError("; ".join(failed))
        wait_for("central's projections", lambda: projections_caught_up(api), 120)
        record.infractions = fetch_infractions(api, [radar.id for radar in scenario.radars])
        record.ack_latencies_ms = observer.ack_latencies_ms()
        record.wall_s = time.monotonic() - started
        observer.stop()
        for link in links.values():
            link.close()
    return record


def _apply_faults(
    scenario: Scenario,
    deployment: Deployment,
    runs: list[RadarRun],
    feeders: list[threading.Thread],
    started: float,
    record: RunRecord,
) -> None:
    """Central and broker faults at their stream time (radar faults are applied by each RadarRun)."""
    actions: dict[str, Callable[[], None]] = {}
    if deployment.central is not None:
        actions["kill-central"] = deployment.central.restart
    if deployment.broker is not None:
        actions["restart-broker"] = deployment.broker.restart
    for fault in sorted(scenario.faults, key=lambda fault: fault.at_s):
        if fault.kind not in PROCESS_FAULTS:
            continue
        # Stream time, as the radars see it: the slowest radar sets the pace.
        while min(r.log.fed_s for r in runs) < fault.at_s:
            if not all(feeder.is_alive() for feeder in feeders):
                return  # a radar stopped early: the run is failing, no more faults
            time.sleep(0.05)
        record.faults_applied.append((time.monotonic() - started, fault.kind))
        actions[fault.kind]()


def _watch(
    record: RunRecord,
    observer: Observer,
    api: httpx.Client,
    threads: list[threading.Thread],
    started: float,
    progress: Progress | None,
) -> None:
    """Until every agent has drained its journal and exited: progress, and journal depth over time."""
    total_passes = len(record.truth.passes)
    task = None
    if progress is not None:
        task = progress.add_task("simulating", total=total_passes)
    seen_infractions = 0
    last_poll = 0.0
    while any(thread.is_alive() for thread in threads):
        time.sleep(DEPTH_SAMPLE_S)
        now = time.monotonic() - started
        acked = observer.acked
        pending = sum(1 for j in record.journaled if str(j.message["event_id"]) not in acked)
        record.depth.append((now, pending))
        if progress is not None and task is not None:
            if now - last_poll > 2.0:
                last_poll = now
                with contextlib.suppress(httpx.HTTPError):  # central is down (a fault): keep the last count
                    seen_infractions = len(fetch_infractions(api, list(record.radars)))
            done = sum(1 for p in record.truth.passes if p.t_s <= record.radars[p.radar_id].fed_s)
            passages = f"passages {len(record.passages)}  " if record.scenario.sections else ""
            progress.update(
                task,
                completed=done,
                description=(
                    f"passes {done}/{total_passes}  violations sent {len(record.journaled)}  {passages}"
                    f"acked {len(acked)}  infractions {seen_infractions}"
                ),
            )
    record.depth.append((time.monotonic() - started, 0))


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
