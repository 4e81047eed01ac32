"""What the pages say: verification with central's own checks, times in the agency's zone, labels, the event log."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from speedledger.central.agency_time import local_time
from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central, Settings
from speedledger.central.entrypoints.dashboard.eventlog import newest_events
from speedledger.central.entrypoints.dashboard.formatting import day_start_ms, kmh, next_day_start_ms
from speedledger.central.entrypoints.dashboard.labels import LANGUAGES, all_labels
from speedledger.central.entrypoints.dashboard.radarmap import HEIGHT, WIDTH, map_points
from speedledger.central.entrypoints.dashboard.verification import Verification, verify_signed
from speedledger.central.errors import ConfigurationError
from speedledger.central.infractions.queries import get_infraction
from speedledger.central.ingest.queries import Evidence
from speedledger.central.radars.lookup import load_radar
from speedledger.central.radars.queries import list_radars
from tests.api.conftest import SECRET, Tokens
from tests.api.factories import RadarKey
from tests.dashboard.conftest import DETECTED_AT_MS, RADAR, Recorded, sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "central" / "entrypoints" / "dashboard" / "templates"
PHOTO = b"\xff\xd8\xff\xe0 a photo \xff\xd9"


def verification_of(central: Central, infraction_id: str, evidence: Evidence, **tamper: object) -> Verification:
    with central.engine.connect() as conn:
        infraction = get_infraction(conn, infraction_id, central.cipher)
    assert infraction is not None
    if tamper:
        infraction = infraction.model_copy(update={"device_message": {**infraction.device_message, **tamper}})
    return verify_signed(infraction.device_message, load_radar(central.store, RADAR), evidence)


def test_a_recorded_message_verifies_and_a_changed_one_does_not(central: Central, recorded: Recorded) -> None:
    none = Evidence("e", "none", "")
    genuine = verification_of(central, recorded.issued, none)
    assert (genuine.key_id, genuine.key_known, genuine.signature_valid) == (recorded.key.key_id, True, True)
    assert genuine.evidence_hash_matches is None
    assert not verification_of(central, recorded.issued, none, measured_speed_ckmh=9000).signature_valid
    stranger = verification_of(central, recorded.issued, none, key_id=RadarKey().key_id)
    assert not stranger.key_known and not stranger.signature_valid


def test_the_photo_is_hashed_again_and_compared_with_the_signed_hash(central: Central, recorded: Recorded) -> None:
    signed = hashlib.sha256(PHOTO).hexdigest()
    received = Evidence("e", "received", signed, PHOTO)
    assert verification_of(central, recorded.issued, received, image_sha256=signed).evidence_hash_matches is True
    swapped = Evidence("e", "received", signed, PHOTO + b"edited")
    assert verification_of(central, recorded.issued, swapped, image_sha256=signed).evidence_hash_matches is False


def test_times_read_in_the_agency_zone_and_speeds_in_kmh() -> None:
    paris, new_york = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
    assert local_time(DETECTED_AT_MS, paris) == "2025-11-28 09:00:00 CET"
    assert local_time(DETECTED_AT_MS, new_york) == "2025-11-28 03:00:00 EST"
    assert local_time(1_751_356_800_000, paris).endswith("CEST")  # 2025-07-01: summer time
    assert local_time(None, paris) == "—"
    assert day_start_ms("2025-11-28", paris) == 1_764_284_400_000  # 2025-11-27 23:00 UTC
    assert next_day_start_ms("2025-11-28", paris) - day_start_ms("2025-11-28", paris) == 86_400_000
    assert next_day_start_ms("2025-03-30", paris) - day_start_ms("2025-03-30", paris) == 23 * 3_600_000
    assert (kmh(104.32), kmh(104.3), kmh(99)) == ("104.32 km/h", "104.3 km/h", "99 km/h")


def test_the_zone_is_configurable_and_checked(tmp_path: Path, recorded: Recorded) -> None:
    environ = {"SPEEDLEDGER_SECRET": SECRET, "SPEEDLEDGER_DB": f"sqlite:///{tmp_path / 'x.db'}"}
    assert Settings.from_env(environ).timezone == "Europe/Paris"
    assert Settings.from_env({**environ, "SPEEDLEDGER_TIMEZONE": "America/New_York"}).timezone == "America/New_York"
    with pytest.raises(ConfigurationError, match="SPEEDLEDGER_TIMEZONE: unknown time zone 'Mars/Olympus'"):
        Settings.from_env({**environ, "SPEEDLEDGER_TIMEZONE": "Mars/Olympus"})


def test_an_infraction_page_shows_local_time_speeds_fine_and_verification(
    client: TestClient, tokens: Tokens, recorded: Recorded
) -> None:
    sign_in(client, tokens, Role.AGENCY)
    page = client.get(f"/infractions/{recorded.issued}").text
    assert "2025-11-28 09:00:00 CET" in page
    assert 'id="measured">104.32 km/h' in page and 'id="retained">99 km/h' in page
    assert 'id="fine">68 €' in page and 'id="points">1' in page
    assert 'id="signature" class="ok">valid' in page
    assert recorded.key.key_id in page


def test_every_label_exists_in_both_languages_and_pages_speak_french(
    client: TestClient, tokens: Tokens, recorded: Recorded
) -> None:
    labels = all_labels()
    assert set(labels) == set(LANGUAGES)
    assert set(labels["en"]) == set(labels["fr"])
    used = {key for template in TEMPLATES.glob("*.html") for key in re.findall(r"\bt\.(\w+)", template.read_text())}
    assert used <= set(labels["en"]), used - set(labels["en"])
    assert not {key for key in labels["en"] if hasattr(dict, key)}, "`t.keys` in a template would be dict.keys"
    sign_in(client, tokens, Role.AGENCY)
    french = client.get("/infractions", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
    assert '<html lang="fr">' in french and "Amende" in french and "émise" in french
    client.get("/language/en")
    assert "Fine" in client.get("/infractions", headers={"Accept-Language": "fr"}).text  # the cookie wins


def test_the_event_log_filters_by_stream_and_type_newest_first(central: Central, recorded: Recorded) -> None:
    everything = newest_events(central.store, limit=1000).events
    assert [event.position for event in everything] == sorted((e.position for e in everything), reverse=True)
    issued = newest_events(central.store, type_name="InfractionIssued").events
    assert len(issued) == 2 and {event.type for event in issued} == {"InfractionIssued"}
    radar = newest_events(central.store, stream_prefix="radar-").events
    assert radar and all(event.stream_id.startswith("radar-") for event in radar)
    first = newest_events(central.store, limit=2)
    older = newest_events(central.store, limit=2, before=first.older_before)
    assert [e.position for e in first.events + older.events] == [e.position for e in everything[:4]]


def test_radars_sit_on_the_map_north_up_inside_the_box(central: Central, recorded: Recorded) -> None:
    with central.engine.connect() as conn:
        (radar,) = list_radars(conn)
    north = radar.model_copy(update={"radar_id": "N", "latitude": radar.latitude + 0.1})
    points = {point.radar.radar_id: point for point in map_points([radar, north])}
    assert points["N"].y < points[RADAR].y
    assert all(0 <= point.x <= WIDTH and 0 <= point.y <= HEIGHT for point in points.values())
