"""`speedledger verify` (offline, no database) and `speedledger notices` (PDF notices in bulk)."""

import json
from pathlib import Path
from typing import Annotated

import typer

CHECK_MARKS = {"ok": "ok  ", "fail": "FAIL", "skip": "skip"}


def public_key_argument(option: str, value: str) -> bytes:
    """Raw 32 bytes from base64 text, or from a file holding base64 or a PEM public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from speedledger.shared import keys

    path = Path(value)
    text = path.read_text().strip() if path.is_file() else value.strip()
    try:
        if text.startswith("-----BEGIN PUBLIC KEY-----"):
            public = serialization.load_pem_public_key(text.encode())
            if not isinstance(public, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            return public.public_bytes_raw()
        raw = keys.b64decode(text)
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as error:
        raise typer.BadParameter(
            f"{value!r} is neither the base64 of a raw Ed25519 public key nor a file holding one ({error})",
            param_hint=option,
        ) from None
    return raw


def verify(
    export: Annotated[Path, typer.Argument(help="The zip from GET /api/v1/infractions/{id}/export.")],
    radar_key: Annotated[
        list[str] | None,
        typer.Option(
            help="The radar's public key (base64, or a file with base64 or PEM) to trust; "
            "twice for a section infraction (the entry and the exit radar)."
        ),
    ] = None,
    central_key: Annotated[
        str | None, typer.Option(help="Central's config-signing public key (GET /api/v1/config-key) to trust.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {verdict, checks} as JSON.")] = False,
) -> None:
    """Check an evidence export offline: signatures, key ids, hashes, verification, speed and fine.

    Prints each check and a verdict; exit status 0 only when every check holds (docs/evidence.md).
    Without --radar-key / --central-key the keys inside the export are used and the output says so.
    """
    from speedledger.central.evidence.verify import verify_export

    radar = [public_key_argument("--radar-key", value) for value in radar_key or ()]
    central = public_key_argument("--central-key", central_key) if central_key is not None else None
    try:
        data = export.read_bytes()
    except OSError as error:
        typer.echo(f"error: cannot read {export}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    report = verify_export(data, radar_keys=radar, central_key=central)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        for check in report.checks:
            typer.echo(f"{CHECK_MARKS[check.status]} {check.name}: {check.detail}")
        failed = sum(check.status == "fail" for check in report.checks)
        typer.echo("verdict: VERIFIED" if report.verified else f"verdict: FAILED ({failed} checks)")
    raise typer.Exit(0 if report.verified else 1)


def _instant_ms(option: str, value: str) -> int:
    """Milliseconds for an ISO 8601 date or date-time (UTC unless it says otherwise)."""
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date or date-time", param_hint=option) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def notices(
    from_: Annotated[str, typer.Option("--from", help="Detected at or after: ISO date or date-time, UTC by default.")],
    to: Annotated[str, typer.Option("--to", help="Detected before (exclusive), same format.")],
    out: Annotated[Path, typer.Option(help="Directory for the PDFs (created), one notice-{infraction_id}.pdf each.")],
) -> None:
    """Render the notice of infraction of every identified infraction detected in [--from, --to).

    Reads the database in SPEEDLEDGER_DB; unidentified infractions have nobody to notify and are skipped.
    """
    from rich.progress import Progress

    from speedledger.central.entrypoints.cli import central_settings, connect_central
    from speedledger.central.evidence.notice import gather_notice, render_notice
    from speedledger.central.infractions.streaming import infraction_pages

    from_ms, to_ms = _instant_ms("--from", from_), _instant_ms("--to", to)
    if to_ms <= from_ms:
        raise typer.BadParameter("must be after --from", param_hint="--to")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        typer.echo(f"error: cannot create {out}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    settings = central_settings(demo=None, require_secret=False, existing_db=True)
    central = connect_central(settings, read_your_writes=False)
    try:
        identified = [
            item.infraction_id
            for page in infraction_pages(central.engine, from_ms=from_ms, to_ms=to_ms)
            for item in page
            if item.owner_id is not None
        ]
        with Progress() as progress:
            task = progress.add_task("notices", total=len(identified))
            for infraction_id in identified:
                with central.engine.connect() as conn:
                    document = render_notice(gather_notice(central, conn, infraction_id))
                (out / f"notice-{infraction_id}.pdf").write_bytes(document)
                progress.advance(task)
    finally:
        central.close()
    typer.echo(f"{len(identified)} notices written to {out}")
