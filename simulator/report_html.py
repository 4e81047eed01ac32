"""The report as files: `report.json` and a self-contained `report.html` (PNG plots inlined, no CDN)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(report: dict[str, Any]) -> dict[str, str]:
    """Base64 PNGs: error histogram, speed vs error, ack latency CDF, infractions per radar, journal depth."""
    measured = [row for row in report["passes"] if row["measured_speed_kmh"] is not None]
    errors = [row["measured_speed_kmh"] - row["true_speed_kmh"] for row in measured]
    figures = {}
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.hist(errors, bins=30)
    axis.set(title="Speed error (measured - true)", xlabel="km/h", ylabel="violations")
    figures["speed error histogram"] = _png(figure)
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.scatter([row["true_speed_kmh"] for row in measured], errors, s=10)
    axis.set(title="Speed vs error", xlabel="true speed, km/h", ylabel="error, km/h")
    figures["speed vs error"] = _png(figure)
    figure, axis = plt.subplots(figsize=(5, 3))
    latencies = sorted(report["ack_latencies_ms"])
    axis.step(latencies, [(index + 1) / len(latencies) for index in range(len(latencies))], where="post")
    axis.set(title="Ack latency CDF (first publish to first ack)", xlabel="ms", ylabel="share of events")
    figures["ack latency CDF"] = _png(figure)
    figure, axis = plt.subplots(figsize=(5, 3))
    per_radar = report["infractions_per_radar"]
    axis.bar(list(per_radar), list(per_radar.values()))
    axis.set(title="Infractions per radar", ylabel="infractions")
    figures["infractions per radar"] = _png(figure)
    figure, axis = plt.subplots(figsize=(5, 3))
    depth = report["journal_depth"]
    axis.step([t for t, _ in depth], [d for _, d in depth], where="post")
    for fault in report["faults"]:
        axis.axvline(fault["wall_s"], color="red", linestyle=":")
    axis.set(title="Unacknowledged journaled events (faults dotted)", xlabel="wall s", ylabel="events")
    figures["journal depth"] = _png(figure)
    return figures


def _sections(sections: dict[str, Any]) -> str:
    """Section control: the counts, then every trip with its spot speeds, true and fined average speed."""
    counts = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sections["counts"].items())
    head = (
        "<tr><th>section</th><th>plate</th><th>entry, exit (s)</th><th>spot km/h at entry, exit</th>"
        "<th>true average km/h</th><th>rule on true times</th><th>central's average</th><th>infraction</th></tr>"
    )
    trips = "".join(
        f"<tr><td>{html.escape(t['section_id'])}</td><td>{html.escape(t['plate'])}</td>"
        f"<td>{t['entry_t_s']:.1f}, {t['exit_t_s']:.1f}</td>"
        f"<td>{t['entry_speed_kmh']:.1f}, {t['exit_speed_kmh']:.1f}</td><td>{t['true_average_kmh']:.1f}</td>"
        f"<td>{t['average_kmh']} (retained {t['retained_kmh']}){' owed' if t['owed'] else ''}</td>"
        f"<td>{'' if t['average_speed_kmh'] is None else t['average_speed_kmh']}</td>"
        f"<td>{html.escape(', '.join(t['infractions']))}</td></tr>"
        for t in sections["trips"]
    )
    return f"<h2>Sections</h2><table>{counts}</table><h3>Trips</h3><table>{head}{trips}</table>"


def write(report: dict[str, Any], directory: Path) -> Path:
    """Write report.json and report.html into `directory`; returns the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report, indent=1))
    invariants = "".join(
        f"<tr><td>{html.escape(i['name'])}</td><td class={'ok' if i['holds'] else 'fail'}>"
        f"{'holds' if i['holds'] else 'FAILS'}</td><td>{html.escape(i['detail'])}</td></tr>"
        for i in report["invariants"]
    )
    counts = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in report["counts"].items())
    figures = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"></figure>'
        for title, data in plots(report).items()
    )
    verdict = "PASSED" if report["passed"] else "FAILED"
    sections = _sections(report["sections"]) if "sections" in report else ""
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>speedledger sim: {report["scenario"]}</title>
<style>body{{font-family:sans-serif;margin:2em}}td{{padding:2px 8px}}.ok{{color:green}}.fail{{color:red}}
figure{{display:inline-block;margin:4px}}</style></head><body>
<h1>Scenario {html.escape(report["scenario"])} (seed {report["seed"]}): {verdict}</h1>
<p>Speed error p50/p95/max: {report["speed_error_kmh"]["p50"]} / {report["speed_error_kmh"]["p95"]} /
{report["speed_error_kmh"]["max"]} km/h; detection rate {report["detection_rate"]}; plate exact-read rate
{report["plate_exact_read_rate"]}; ack latency p50/p99 {report["ack_latency_ms"]["p50"]} /
{report["ack_latency_ms"]["p99"]} ms; {report["wall_s"]} s wall at speedup {report["speedup"]}.</p>
<h2>Invariants</h2><table>{invariants}</table><h2>Counts</h2><table>{counts}</table>{sections}
<h2>Plots</h2>{figures}<p>Every pass, its truth and what was measured and decided: report.json.</p></body></html>"""
    path = directory / "report.html"
    path.write_text(page)
    return path
