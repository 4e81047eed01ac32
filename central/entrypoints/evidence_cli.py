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
        str | None, typer.Option(help="The radar's public key (base64, or a file with base64 or PEM) to trust.")
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

    radar = public_key_argument("--radar-key", radar_key) if radar_key is not None else None
    central = public_key_argument("--central-key", central_key) if central_key is not None else None
    try:
        data = export.read_bytes()
    except OSError as error:
        typer.echo(f"error: cannot read {export}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    report = verify_export(data, radar_key=radar, central_key=central)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        for check in report.checks:
            typer.echo(f"{CHECK_MARKS[check.status]} {check.name}: {check.detail}")
        failed = sum(check.status == "fail" for check in report.checks)
        typer.echo("verdict: VERIFIED" if report.verified else f"verdict: FAILED ({failed} checks)")
    raise typer.Exit(0 if report.verified else 1)
