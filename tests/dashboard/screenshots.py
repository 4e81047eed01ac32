"""`make screenshots`: PNGs of the dashboard's main pages, on a real deployment with a small scene.

    python -m tests.dashboard.screenshots docs/img

Starts mosquitto, `speedledger central` and a real radar agent in a temporary directory, records a
few infractions with their photos over MQTT, then photographs each page in Debian's chromium.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from speedledger.central.auth import Role
from tests.dashboard.conftest import CHROMIUM
from tests.dashboard.deployment import (
    Deployment,
    RoadsideRadar,
    deployed,
    infraction_for,
    radar_agent,
    register_owner,
    wait_until,
)

LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}


def record_scene(deployment: Deployment) -> dict[str, str]:
    """Owners, vehicles and infractions in every status; returns the ids the pages are opened with."""
    with deployment.api() as api:
        alice = register_owner(api, "Alice Martin", "GZ123QK")
        register_owner(api, "Bruno Garnier", "AB456CD")
        register_owner(api, "Chloé Dubois", "FH789JK")
    a6 = RoadsideRadar(deployment, "A6-EVRY-01", (48.6290, 2.4410))
    n7 = RoadsideRadar(deployment, "N7-JUVISY-02", (48.6890, 2.3770))
    try:
        shown = a6.flash("GZ123QK", 13_120, seed=3)
        paid = a6.flash("AB456CD", 10_460, seed=4)
        contested = n7.flash("FH789JK", 11_850, seed=5)
        n7.flash("EF789GH", 15_100, seed=6)  # not registered: unidentified
        n7.forge(measured_speed_ckmh=9_000)
        with deployment.api(Role.AGENCY) as api:
            ids = {
                name: infraction_for(api, event)["infraction_id"]
                for name, event in [("shown", shown), ("paid", paid), ("contested", contested)]
            }
            api.post(f"/api/v1/infractions/{ids['paid']}/pay", json={"reference": "TX-2026-0042"}).raise_for_status()
            api.post(f"/api/v1/infractions/{ids['contested']}/contest", json={"reason": "car sold"}).raise_for_status()
            wait_until("the quarantine", lambda: bool(api.get("/api/v1/quarantine").json()["items"]))
    finally:
        a6.client.close()  # stays online
        n7.close()  # goes offline
    return {**ids, "owner": alice}


def shoot(page: Page, url: str, path: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshots: {path}")


def photograph(deployment: Deployment, ids: dict[str, str], out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport=LAPTOP, locale="en-GB")
        page.goto(f"{deployment.url}/sign-in")
        page.get_by_label("Token").fill(deployment.token(Role.ADMIN))
        page.get_by_role("button", name="Sign in").click()
        base = deployment.url
        shoot(page, f"{base}/radars", out / "dashboard-radars.png")
        shoot(page, f"{base}/infractions", out / "dashboard-infractions.png")
        shoot(page, f"{base}/infractions/{ids['shown']}", out / "dashboard-infraction.png")
        shoot(page, f"{base}/events", out / "dashboard-events.png")
        shoot(page, f"{base}/quarantine", out / "dashboard-quarantine.png")
        shoot(page, f"{base}/registry/owners/{ids['owner']}", out / "dashboard-owner.png")
        page.set_viewport_size(TABLET)
        shoot(page, f"{base}/infractions/{ids['contested']}", out / "dashboard-infraction-tablet.png")
        browser.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as workdir,
        deployed(Path(workdir)) as deployment,
        radar_agent(deployment, "A86-CRETEIL-03", (48.7800, 2.4550)),
        deployment.api() as api,
    ):
        ids = record_scene(deployment)
        wait_until("the agent online", lambda: api.get("/api/v1/radars/A86-CRETEIL-03").json()["online"])
        photograph(deployment, ids, out)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
