"""The notice of infraction sent to the owner at detection time, as a PDF (reportlab).

It shows the photo, when and where, the radar and its verification, the speeds and limit, the fine's
reduced / standard / increased amounts with their deadlines, the points, the payment reference and
how to contest. The owner's name appears only while their personal data exists (not after erasure).
A section infraction's notice says it is average-speed control and shows both passages (places,
times, photos), the distance, the clock uncertainties, and the average and retained speeds.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table
from sqlalchemy import Connection

from speedledger.central.agency_time import local_time
from speedledger.central.bootstrap import Central
from speedledger.central.errors import Conflict, NotFound
from speedledger.central.infractions.domain import InfractionStatus
from speedledger.central.infractions.fines import fine_schedule_document
from speedledger.central.infractions.payment import Amount, PaymentTerms, payment_reference
from speedledger.central.infractions.queries import InfractionDetail, get_infraction
from speedledger.central.ingest.queries import evidence_for_violation
from speedledger.central.radars.lookup import RadarState, load_radar
from speedledger.central.radars.metrology import MetrologyRecord
from speedledger.central.sections.lookup import SectionState, load_section

ERASED = "(the owner's personal data has been erased)"


@dataclass(frozen=True)
class Notice:
    infraction: InfractionDetail
    radar: RadarState
    photo: bytes | None
    terms: PaymentTerms | None
    #: The agency's zone (SPEEDLEDGER_TIMEZONE): every time on the notice is given in it.
    zone: ZoneInfo
    #: A section infraction's entry: the section, its entry passage, radar and photo (`radar` is the exit's).
    entry: SectionEntry | None = None


@dataclass(frozen=True)
class SectionEntry:
    section: SectionState
    message: Mapping[str, Any]
    radar: RadarState
    photo: bytes | None


def gather_notice(central: Central, conn: Connection, infraction_id: str) -> Notice:
    """What the notice shows. NotFound when unknown; Conflict when nobody is charged (unidentified)."""
    infraction = get_infraction(conn, infraction_id, central.cipher)
    if infraction is None:
        raise NotFound(f"infraction {infraction_id!r} not found")
    if infraction.status == InfractionStatus.UNIDENTIFIED or infraction.owner_id is None:
        raise Conflict(f"infraction {infraction_id} is unidentified: there is no owner to notify")
    radar = _radar(central, infraction.radar_id)
    evidence = evidence_for_violation(conn, infraction.event_id, now_ms=central.clock())
    terms = PaymentTerms.from_schedule(fine_schedule_document(central.settings.fine_schedule))
    entry = None
    if infraction.entry_device_message is not None and infraction.section_id is not None:
        section = load_section(central.store, infraction.section_id)
        if section is None:
            raise Conflict(f"section {infraction.section_id} is not known")
        entry_message = infraction.entry_device_message
        photo = evidence_for_violation(conn, str(entry_message["event_id"]), now_ms=central.clock()).content
        entry = SectionEntry(section, entry_message, _radar(central, str(entry_message["radar_id"])), photo)
    return Notice(infraction, radar, evidence.content, terms, ZoneInfo(central.settings.timezone), entry)


def _radar(central: Central, radar_id: str) -> RadarState:
    radar = load_radar(central.store, radar_id)
    if radar is None:
        raise Conflict(f"radar {radar_id} is not known")
    return radar


def render_notice(notice: Notice) -> bytes:
    infraction, radar = notice.infraction, notice.radar
    styles = getSampleStyleSheet()
    body, heading = styles["BodyText"], styles["Heading2"]
    verification = radar.verification_at(infraction.detected_at_ms)
    reference = payment_reference(infraction.infraction_id)
    owner = ERASED if infraction.owner_erased or not infraction.owner_name else infraction.owner_name
    control = "" if notice.entry is None else " (average-speed control)"
    story: list[Flowable] = [
        Paragraph(f"Notice of infraction: speed limit exceeded{control}", styles["Title"]),
        Paragraph(f"To: {escape(owner)}, holder of vehicle <b>{infraction.plate}</b>", body),
        Paragraph(
            f"Infraction {infraction.infraction_id}, notified {local_time(infraction.issued_at_ms, notice.zone)}", body
        ),
        Paragraph(f"Payment reference: <b>{reference}</b>", body),
        Spacer(1, 4 * mm),
    ]
    photos = [notice.photo] if notice.entry is None else [notice.entry.photo, notice.photo]
    story += [
        Image(io.BytesIO(photo), width=100 * mm, height=60 * mm, kind="proportional") for photo in photos if photo
    ]
    if notice.entry is None:
        measured = [
            ("Date and time", local_time(infraction.detected_at_ms, notice.zone)),
            ("Place", _place(radar)),
            ("Direction", infraction.direction),
            ("Radar", f"{radar.radar_id}, signing key {infraction.device_message['key_id']}"),
            ("Radar verification", _verification(verification, notice.zone)),
            ("Measured speed", f"{infraction.measured_speed_ckmh / 100:.2f} km/h"),
        ]
    else:
        measured = _section_rows(notice, notice.entry)
    story += [
        Paragraph("What was measured", heading),
        _table(
            [
                *measured,
                ("Retained speed", f"{infraction.retained_speed_kmh} km/h (after the legal tolerance)"),
                ("Speed limit", f"{infraction.speed_limit_kmh} km/h"),
                ("Excess", f"{infraction.excess_kmh} km/h"),
            ]
        ),
        Paragraph("What you owe", heading),
        _table(
            [(f"Fine ({amount.label})", _amount(amount, notice.zone)) for amount in _amounts(notice)]
            + [("Points", str(infraction.points)), ("Payment reference", reference)]
        ),
        Paragraph("How to contest", heading),
        Paragraph(escape(notice.terms.contest if notice.terms else "Contact the enforcement agency."), body),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=f"Notice of infraction {infraction.infraction_id}").build(story)
    return buffer.getvalue()


def _section_rows(notice: Notice, entry: SectionEntry) -> list[tuple[str, str]]:
    """Average-speed control: both passages, the distance and the average speed in the driver's favour."""
    infraction, section = notice.infraction, entry.section
    entry_message, exit_message = entry.message, infraction.device_message
    return [
        ("Control", f"Average-speed control over section {section.section_id}: your average speed between two radars"),
        ("Entry", f"{local_time(int(entry_message['passed_at_ms']), notice.zone)} at {_place(entry.radar)}"),
        ("Exit", f"{local_time(infraction.detected_at_ms, notice.zone)} at {_place(notice.radar)}"),
        ("Distance", f"{section.distance_m / 1000:.3f} km between the two radars"),
        ("Direction", infraction.direction),
        (
            "Radars",
            f"entry {entry.radar.radar_id}, signing key {entry_message['key_id']}; "
            f"exit {notice.radar.radar_id}, signing key {exit_message['key_id']}",
        ),
        (
            "Clock uncertainty",
            f"{entry_message['clock_uncertainty_ms']} ms at the entry, {exit_message['clock_uncertainty_ms']} ms at "
            "the exit, added to your travel time",
        ),
        ("Average speed", f"{infraction.average_speed_kmh} km/h (truncated to whole km/h)"),
    ]


def _place(radar: RadarState) -> str:
    return f"{radar.name} ({radar.latitude:.5f}, {radar.longitude:.5f})"


def _amounts(notice: Notice) -> list[Amount]:
    fine = notice.infraction.fine_eur
    if notice.terms is None:
        return [Amount("standard", fine)]
    return notice.terms.amounts(fine, notice.infraction.issued_at_ms)


def _amount(amount: Amount, zone: ZoneInfo) -> str:
    if amount.due_by_ms is not None:
        return f"{amount.fine_eur} EUR if paid by {local_time(amount.due_by_ms, zone)}"
    if amount.after_ms is not None:
        return f"{amount.fine_eur} EUR if paid after {local_time(amount.after_ms, zone)}"
    return f"{amount.fine_eur} EUR"


def _verification(record: MetrologyRecord | None, zone: ZoneInfo) -> str:
    if record is None:
        return "none in force"
    return (
        f"{record.approval_number} by {record.verifying_body}, valid from {local_time(record.verified_at_ms, zone)} "
        f"until {local_time(record.valid_until_ms, zone)}"
    )


def _table(rows: list[tuple[str, str]]) -> Table:
    styles = getSampleStyleSheet()
    # Values may hold operator-typed text (radar name): escaped, since Paragraph reads markup.
    cells = [
        [Paragraph(label, styles["BodyText"]), Paragraph(escape(value), styles["BodyText"])] for label, value in rows
    ]
    return Table(cells, colWidths=[45 * mm, 125 * mm])
