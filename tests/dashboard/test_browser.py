"""The dashboard in a real browser (Playwright driving Debian's chromium) against a real deployment:
`speedledger central` as a process, mosquitto, radars publishing over MQTT and a real radar agent."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from speedledger.central.agency_time import local_time
from speedledger.central.auth import Role
from speedledger.central.settings import DEFAULT_TIMEZONE
from tests.api.test_sections import section_body
from tests.dashboard.deployment import Deployment, RoadsideRadar, deployed, infraction_for, radar_agent, register_owner

pytestmark = pytest.mark.mosquitto

HOSTILE_OWNER = '<img src=x onerror="window.pwned=1">Eve <b>Mallory</b>'
HOSTILE_PAYLOAD = '{"v":1,"plate":"<img src=x onerror=window.pwned=1>","note":"</pre><script>window.pwned=1</script>"}'


@dataclass
class Scene:
    deployment: Deployment
    radar: RoadsideRadar
    #: Charged to an owner whose name is hostile markup.
    infraction_id: str
    plate: str


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with deployed(tmp_path_factory.mktemp("deployment")) as deployment:
        with deployment.api() as api:
            register_owner(api, HOSTILE_OWNER, "GZ123QK")
        radar = RoadsideRadar(deployment, "FR-A6-001", (48.62, 2.44))
        try:
            event_id = radar.flash("GZ123QK", 13_100)
            with deployment.api() as api:
                infraction = infraction_for(api, event_id)
            yield Scene(deployment, radar, infraction["infraction_id"], "GZ123QK")
        finally:
            radar.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a page opened a dialog: {dialog.message}"))
    yield page
    context.close()


def sign_in(page: Page, scene: Scene, role: Role) -> None:
    page.goto(f"{scene.deployment.url}/sign-in")
    page.get_by_label("Token").fill(scene.deployment.token(role))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)


def test_nothing_shows_before_sign_in_and_the_session_is_an_httponly_strict_cookie(page: Page, scene: Scene) -> None:
    for path in ("/radars", f"/infractions/{scene.infraction_id}", f"/infractions/{scene.infraction_id}/evidence.jpg"):
        page.goto(f"{scene.deployment.url}{path}")
        expect(page).to_have_url(f"{scene.deployment.url}/sign-in")
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid token")
    sign_in(page, scene, Role.AGENCY)
    expect(page).to_have_url(f"{scene.deployment.url}/radars")
    (cookie,) = page.context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    assert page.evaluate("document.cookie") == ""  # no script can read the session


def test_a_radar_goes_offline_on_the_page_when_its_agent_stops(page: Page, scene: Scene) -> None:
    sign_in(page, scene, Role.OPERATOR)
    with radar_agent(scene.deployment, "FR-A6-002", (48.70, 2.38)) as agent:
        state = page.locator("#radar-FR-A6-002 [data-state]")
        expect(state).to_have_text("online", timeout=30_000)  # appeared live: registered, then its status
        page.evaluate("window.sameDocument = true")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 128 + signal.SIGTERM
        expect(state).to_have_text("offline", timeout=15_000)
        assert page.evaluate("window.sameDocument") is True, "updated in place, not by reloading"
        expect(page.locator("#radar-FR-A6-002")).to_contain_text("90 km/h")


def test_an_infraction_shows_its_photo_and_a_valid_verification(page: Page, scene: Scene) -> None:
    sign_in(page, scene, Role.AGENCY)
    page.goto(f"{scene.deployment.url}/infractions")
    page.get_by_label("Plate").fill("gz-123-qk")
    page.get_by_role("button", name="Filter").click()
    page.locator("#infractions tbody a").first.click()
    expect(page).to_have_url(f"{scene.deployment.url}/infractions/{scene.infraction_id}")
    photo = page.locator("#evidence")
    expect(photo).to_be_visible()
    page.wait_for_function("() => document.querySelector('#evidence').naturalWidth > 100")  # a decoded JPEG
    served = page.request.get(f"{scene.deployment.url}/infractions/{scene.infraction_id}/evidence.jpg")
    assert (served.headers["content-type"], served.headers["cache-control"]) == ("image/jpeg", "no-store")
    for link, kind in (("Evidence export", "application/zip"), ("Notice of infraction", "application/pdf")):
        href = page.get_by_role("link", name=link).get_attribute("href")
        document = page.request.get(f"{scene.deployment.url}{href}")
        assert (document.status, document.headers["content-type"]) == (200, kind), link
    expect(page.locator("#signature")).to_have_text("valid")
    expect(page.locator("#evidence-hash")).to_contain_text("matches the signed hash")
    expect(page.locator("#verification")).to_contain_text(scene.radar.radar.key_id)
    expect(page.locator("#measured")).to_have_text("131 km/h")
    expect(page.locator("#retained")).to_have_text("124 km/h")
    expect(page.locator("#fine")).to_have_text("135 €")
    expect(page.locator("#points")).to_have_text("3")
    expect(page.locator("#owner-name")).to_have_text('<img src=x onerror="window.pwned=1">Eve <b>Mallory</b>')
    assert page.evaluate("window.pwned") is None


def test_a_section_infraction_shows_both_passages_and_their_checks(page: Page, scene: Scene) -> None:
    deployment = scene.deployment
    entry = RoadsideRadar(deployment, "FR-A7-201", (45.70, 4.80))
    exit = RoadsideRadar(deployment, "FR-A7-202", (45.62, 4.82))
    try:
        with deployment.api(Role.OPERATOR) as api:
            api.post("/api/v1/sections", json=section_body(distance_m=10_000, speed_limit_kmh=110)).raise_for_status()
        exit_at_ms = int(time.time() * 1000) - 1000
        entry_at_ms = exit_at_ms - 250_000  # 10 km in 250 s (and 2 x 20 ms of clock uncertainty): 143 km/h
        entry.pass_by(scene.plate, entry_at_ms, seed=3)
        exit_event_id = exit.pass_by(scene.plate, exit_at_ms, seed=4)
        with deployment.api() as api:
            infraction_id = infraction_for(api, exit_event_id)["infraction_id"]
    finally:
        entry.close()
        exit.close()
    sign_in(page, scene, Role.AGENCY)
    page.goto(f"{deployment.url}/infractions/{infraction_id}")
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    for role, radar, at_ms in (("entry", entry, entry_at_ms), ("exit", exit, exit_at_ms)):
        expect(page.locator(f"#{role}-place")).to_contain_text(f"{radar.radar.radar_id} — Radar {radar.radar.radar_id}")
        expect(page.locator(f"#{role}-time")).to_have_text(local_time(at_ms, zone))
        expect(page.locator(f"#{role}-evidence")).to_be_visible()
        page.wait_for_function(f"() => document.querySelector('#{role}-evidence').naturalWidth > 100")
        expect(page.locator(f"#{role}-signature")).to_have_text("valid")
        expect(page.locator(f"#{role}-evidence-hash")).to_contain_text("matches the signed hash")
        expect(page.locator("#verification")).to_contain_text(radar.radar.key_id)
    photos = [page.locator(f"#{role}-evidence").get_attribute("src") for role in ("entry", "exit")]
    served = [page.request.get(f"{deployment.url}{photo}") for photo in photos]
    assert [(photo.status, photo.headers["cache-control"]) for photo in served] == [(200, "no-store")] * 2
    assert served[0].body() != served[1].body()  # each passage its own photo
    expect(page.locator("#section")).to_have_text("A7-S1 (FR-A7-201 → FR-A7-202)")
    expect(page.locator("#distance")).to_have_text("10.000 km")
    expect(page.locator("#average")).to_have_text("143 km/h")
    expect(page.locator("#retained")).to_have_text("135 km/h")
    expect(page.locator("#fine")).to_have_text("135 €")
    export = page.request.get(f"{deployment.url}/infractions/{infraction_id}/export.zip")
    assert (export.status, export.headers["content-type"]) == (200, "application/zip")  # both images already kept


def test_a_role_that_may_changes_the_status_and_one_that_may_not_cannot(
    page: Page, chromium: Browser, scene: Scene
) -> None:
    url = f"{scene.deployment.url}/infractions/{scene.infraction_id}"
    sign_in(page, scene, Role.AGENCY)
    page.goto(url)
    contest = page.locator("form[action$='/contest']")
    contest.get_by_label("Reason").fill("I was not driving")
    contest.get_by_role("button", name="Contest").click()
    expect(page.locator("#status")).to_have_text("contested")
    expect(page.locator("form[action$='/pay']")).to_have_count(0)  # not offered once contested
    expect(page.locator(".history")).to_contain_text("I was not driving")

    operator = chromium.new_context().new_page()
    sign_in(operator, scene, Role.OPERATOR)
    response = operator.goto(url)
    assert response is not None and response.status == 403
    expect(operator.locator("#actions")).to_have_count(0)
    csrf = operator.locator("input[name=csrf]").first.get_attribute("value")
    refused = operator.request.post(f"{url}/uphold", form={"csrf": csrf or "", "text": "no"})
    assert refused.status == 403
    with scene.deployment.api(Role.OPERATOR) as api:
        assert api.post(f"/api/v1/infractions/{scene.infraction_id}/uphold").status_code == 403
    operator.context.close()
    page.reload()
    expect(page.locator("#status")).to_have_text("contested")


def test_a_forged_message_appears_in_the_quarantine_as_text(page: Page, scene: Scene) -> None:
    sign_in(page, scene, Role.OPERATOR)
    page.goto(f"{scene.deployment.url}/quarantine")
    page.evaluate("window.sameDocument = true")
    scene.radar.forge(measured_speed_ckmh=20_000)  # changed after signing
    forged = page.locator("[data-reason=bad_signature]")
    expect(forged).to_have_count(1, timeout=15_000)
    expect(forged).to_contain_text(scene.radar.radar.radar_id)
    expect(forged.locator(".payload")).to_contain_text('"measured_speed_ckmh": 20000')
    scene.radar.client.publish("violations", HOSTILE_PAYLOAD.encode())
    hostile = page.locator("[data-reason=malformed], [data-reason=invalid_field]")
    expect(hostile).to_have_count(1, timeout=15_000)
    expect(hostile.locator(".payload")).to_have_text(HOSTILE_PAYLOAD)
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("window.sameDocument") is True


def test_the_event_log_tails_live_and_tables_sort_from_the_keyboard(page: Page, scene: Scene) -> None:
    sign_in(page, scene, Role.AGENCY)
    page.goto(f"{scene.deployment.url}/events?type=ViolationRecorded")
    page.evaluate("window.sameDocument = true")
    rows = page.locator("#events tbody tr")
    shown = rows.count()
    scene.radar.flash("EF789GH", 10_460, seed=9)  # an unregistered plate: unidentified
    expect(rows).to_have_count(shown + 1, timeout=15_000)
    expect(rows.first).to_contain_text("ViolationRecorded")
    assert page.evaluate("window.sameDocument") is True

    page.goto(f"{scene.deployment.url}/infractions")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_role("button", name="Measured").focus()
    measured = page.locator("#infractions tbody td:nth-child(5)")
    for order in ("ascending", "descending"):  # one of them is not the page's own order (newest first)
        page.keyboard.press("Enter")
        expect(page.locator(f"#infractions th[aria-sort={order}]")).to_have_text("Measured")
        speeds = measured.evaluate_all("cells => cells.map(cell => Number(cell.dataset.sort))")
        assert len(set(speeds)) >= 2 and speeds == sorted(speeds, reverse=order == "descending")
