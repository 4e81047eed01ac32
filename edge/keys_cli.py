"""`speedledger keys ...`: a radar's signing key. Needs only the base install (cryptography)."""

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.shared import keys

keys_app = typer.Typer(help="Radar signing keys.", no_args_is_help=True)


@keys_app.command("generate")
def generate_key(
    out: Annotated[Path, typer.Option(help="Private key file to write (PEM PKCS#8, mode 0600).")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {public_key, key_id} as JSON.")] = False,
) -> None:
    """Create a radar's Ed25519 signing key; print its public key (base64 of the raw 32 bytes) and key_id.

    Register the public key with central (`POST /api/v1/radars` or `.../keys`); the edge agent loads
    the file with `speedledger edge run --key FILE`.
    """
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        descriptor = os.open(out, flags, 0o600)
    except FileExistsError:
        typer.echo(f"error: {out} exists; use --force to replace it", err=True)
        raise typer.Exit(1) from None
    except OSError as error:
        typer.echo(f"error: cannot write {out}: {error.strerror}", err=True)
        raise typer.Exit(1) from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    if force:
        out.chmod(0o600)
    public_raw = private_key.public_key().public_bytes_raw()
    public_key, key_id = keys.b64encode(public_raw), keys.key_id(public_raw)
    if as_json:
        typer.echo(json.dumps({"public_key": public_key, "key_id": key_id}))
    else:
        typer.echo(f"public_key: {public_key}")
        typer.echo(f"key_id: {key_id}")
