"""`speedledger edge ...` commands. A usage mistake is one line on stderr and exit status 2."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from speedledger.shared import topics
from speedledger.shared.passage import MAX_CLOCK_UNCERTAINTY_MS

#: CONTRACT §2.
RADAR_ID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
RADAR_ID_MAX = 32

edge_app = typer.Typer(help="The radar agent: measure, read plates, run.", no_args_is_help=True)


def usage_error(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def mqtt_password(password_file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The broker password: the file's first line, else SPEEDLEDGER_MQTT_PASSWORD, else none."""
    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
        except OSError as error:
            usage_error(f"--mqtt-password-file: cannot read {password_file}: {error.strerror}")
        return lines[0] if lines else ""
    return environ.get("SPEEDLEDGER_MQTT_PASSWORD") or None


@edge_app.command("measure")
def measure(
    file: Annotated[Path, typer.Argument(help="IQ recording: WAV, left I, right Q, 16-bit PCM or 32-bit float.")],
    angle_deg: Annotated[float, typer.Option(help="Angle between the beam and the direction of travel.")] = 0.0,
    carrier_hz: Annotated[float, typer.Option(help="Radar carrier frequency.")] = 24.125e9,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object a line per measured vehicle.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Also write a spectrogram PNG with the detections.")] = None,
) -> None:
    """Measure every vehicle in an IQ recording; invalidated passes, notched interferers and rejected
    tracks are explained on stderr (JSON objects with --json)."""
    import json

    from speedledger.edge.dsp import DopplerProcessor, iter_iq_wav, read_iq_wav
    from speedledger.edge.dsp.diagnostics import describe, diagnostics

    if plot is not None and not plot.resolve().parent.is_dir():
        usage_error(f"--plot: directory {plot.parent} does not exist")

    try:
        if plot is not None:  # the plot needs the whole recording in memory
            rate, iq = read_iq_wav(file)
            source = iter([iq[start : start + rate] for start in range(0, iq.size, rate)])
        else:
            rate, source = iter_iq_wav(file)
        processor = DopplerProcessor(
            rate, carrier_hz=carrier_hz, angle_deg=angle_deg, keep_detections=plot is not None, keep_rejected=True
        )
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if processor.range_warning is not None:
        typer.echo(f"warning: {processor.range_warning}", err=True)
    passes = processor.run(source)
    for vehicle_pass in passes:
        if not vehicle_pass.valid:
            continue
        if json_output:
            typer.echo(json.dumps(vehicle_pass.as_measurement(), separators=(",", ":")))
        else:
            typer.echo(
                f"{vehicle_pass.t_ms / 1000:9.3f} s  {vehicle_pass.speed_kmh:7.2f} km/h  {vehicle_pass.direction:<11}  "
                f"SNR {vehicle_pass.snr_db:5.1f} dB  {vehicle_pass.frames} frames"
            )
    for record in diagnostics(processor, passes):
        typer.echo(json.dumps(record, separators=(",", ":")) if json_output else describe(record), err=True)
    measured = sum(1 for vehicle_pass in passes if vehicle_pass.valid)
    summary = f"{measured} vehicle{'' if measured == 1 else 's'} measured in {file.name}"
    typer.echo(json.dumps({"vehicles": measured}) if json_output else summary, err=True)
    if plot is not None:
        from speedledger.edge.dsp.plot import plot_measurement

        plot_measurement(iq, processor, passes, plot, title=f"{file.name} (angle {angle_deg:g} deg)")


@edge_app.command("read-plate")
def read_plate(
    image: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Camera frame of the vehicle's front (JPEG, PNG, ...).")
    ],
    json_output: Annotated[bool, typer.Option("--json", help='Print {"plate":..,"confidence_pm":..}.')] = False,
    min_confidence_pm: Annotated[
        int, typer.Option(min=0, max=1000, help="Below this per-character confidence the plate is left unread.")
    ] = 700,
) -> None:
    """Read the French SIV plate in a frame; an unreadable or doubtful plate prints as "" (never a guess)."""
    import json

    import cv2

    from speedledger.edge.plates.glyphs import FontNotFound
    from speedledger.edge.plates.tesseract import TessdataNotFound, TesseractPlateReader

    frame = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if frame is None:
        typer.echo(f"error: cannot read an image from {image}", err=True)
        raise typer.Exit(1)
    try:
        with TesseractPlateReader(min_confidence_pm=min_confidence_pm) as reader:
            read = reader.read(frame)
    except (TessdataNotFound, FontNotFound) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if json_output:
        typer.echo(json.dumps({"plate": read.plate, "confidence_pm": read.confidence_pm}, separators=(",", ":")))
    else:
        typer.echo(f"{read.plate or '(unread)'}  confidence {read.confidence_pm} pm")


@edge_app.command("run")
def run(
    radar_id: Annotated[str, typer.Option("--radar-id", help="This radar's id, as registered at central.")],
    key: Annotated[
        Path, typer.Option("--key", help="Ed25519 private key (PEM PKCS#8, from `speedledger keys generate`).")
    ],
    source: Annotated[
        str | None,
        typer.Option(help="IQ recording (WAV, left I, right Q), or - for live 16-bit stereo PCM on stdin."),
    ] = None,
    camera: Annotated[
        Path | None, typer.Option(help="Folder of camera frames (JPEG/PNG) named by their time: `<ms>.jpg`.")
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(help="Journal folder (default ./journal-RADAR_ID); keep it on durable storage.")
    ] = None,
    mqtt: Annotated[
        str, typer.Option(envvar="SPEEDLEDGER_MQTT", help="Broker URL, mqtt:// or mqtts:// (TLS); no password in it.")
    ] = topics.DEFAULT_MQTT_URL,
    mqtt_password_file: Annotated[
        Path | None,
        typer.Option(
            help="File whose first line is the broker password (username: the URL's, else the radar id). "
            "Or set SPEEDLEDGER_MQTT_PASSWORD."
        ),
    ] = None,
    speed_limit: Annotated[int, typer.Option(help="Limit (km/h) until central sends a signed config.")] = 90,
    central_key: Annotated[
        str | None,
        typer.Option(
            envvar="SPEEDLEDGER_CENTRAL_KEY",
            help="Central's config-signing public key (base64 of the raw key, or a PEM/base64 file).",
        ),
    ] = None,
    firmware: Annotated[str, typer.Option(help="Firmware version reported in violations.")] = "speedledger-edge/0.1.0",
    sample_rate: Annotated[float | None, typer.Option(help="Sample rate (Hz) of live PCM on stdin.")] = None,
    carrier_hz: Annotated[float, typer.Option(help="Radar carrier frequency.")] = 24.125e9,
    angle_deg: Annotated[float, typer.Option(help="Angle between beam and direction of travel.")] = 0.0,
    start_ms: Annotated[
        int | None, typer.Option(help="Unix ms of the recording's first sample (default: now).")
    ] = None,
    realtime: Annotated[bool, typer.Option(help="Pace a recording at its sample rate.")] = False,
    clock_uncertainty_ms: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=MAX_CLOCK_UNCERTAINTY_MS,
            help="Bound (ms) on the clock's error reported in passages, for a clock the kernel does not "
            "discipline (GPS, or a stream dated by --start-ms); default: the kernel's NTP state.",
        ),
    ] = None,
    drain_timeout: Annotated[
        float, typer.Option(help="Seconds to keep delivering after the source ends (or without one).")
    ] = 30.0,
    read_plates: Annotated[bool, typer.Option(help="Read plates in camera frames (Tesseract).")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON line per violation on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log connection and delivery events.")] = False,
) -> None:
    """The radar agent: measure, sign, journal and deliver violations until central acknowledges them."""
    import json
    import logging
    import signal
    import threading

    from speedledger.edge.agent.camera import untimed_frames
    from speedledger.edge.agent.runner import RunOptions
    from speedledger.edge.agent.runner import run as run_agent
    from speedledger.edge.mqtt_transport import MqttTransport
    from speedledger.edge.signing import KeyFileError, load_public_key

    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not (1 <= len(radar_id) <= RADAR_ID_MAX and set(radar_id) <= RADAR_ID_CHARACTERS):
        usage_error(f"--radar-id must be 1 to {RADAR_ID_MAX} letters, digits or '-' (CONTRACT §2), got {radar_id!r}")
    if camera is not None and not camera.is_dir():
        usage_error(f"--camera: {camera} is not a folder of camera frames")
    if camera is not None and (untimed := untimed_frames(camera)):
        usage_error(
            f"--camera: {untimed[0]} is not named by its time in ms since the first IQ sample (e.g. 3000.jpg); "
            "frames without a time could be matched to another vehicle"
        )
    if source not in (None, "-") and not Path(source).is_file():
        usage_error(f"--source: no recording at {source}")
    password = mqtt_password(mqtt_password_file, os.environ)
    try:
        central_public_key = load_public_key(central_key) if central_key else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--central-key") from None

    def report(message: dict[str, object]) -> None:
        if json_output:
            typer.echo(json.dumps(message, separators=(",", ":")))
        else:
            typer.echo(
                f"violation seq {message['seq']}: {int(str(message['measured_speed_ckmh'])) / 100:.2f} km/h "
                f"(limit {message['speed_limit_kmh']}) plate {message['plate'] or '-'} -> journaled"
            )

    options = RunOptions(
        radar_id=radar_id,
        key_file=key,
        mqtt_url=mqtt,
        journal_dir=journal if journal is not None else Path(f"journal-{radar_id}"),
        speed_limit_kmh=speed_limit,
        central_key=central_public_key,
        firmware=firmware,
        source=source,
        sample_rate=sample_rate,
        camera_dir=camera,
        read_plates=read_plates,
        carrier_hz=carrier_hz,
        angle_deg=angle_deg,
        start_ms=start_ms,
        realtime=realtime,
        clock_uncertainty_ms=clock_uncertainty_ms,
        drain_timeout_s=drain_timeout,
        mqtt_password=password,
    )

    stop = threading.Event()
    received: list[int] = []

    def request_stop(signum: int, frame: object) -> None:
        received.append(signum)  # the loop ends at its next step: offline status published, journal closed
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    try:
        agent = run_agent(options, report, stop)
    except (KeyFileError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    pending = len(agent.journal.pending())
    outbox = agent.outbox
    typer.echo(
        f"{agent.stats.violations} violations journaled; acks: {outbox.acked['accepted']} accepted, "
        f"{outbox.acked['duplicate']} duplicate, {outbox.acked['rejected']} rejected; {pending} pending",
        err=True,
    )
    transport = outbox.transport
    broker_error = transport.last_error if isinstance(transport, MqttTransport) else None
    if broker_error is not None:
        typer.echo(f"delivery: {broker_error}", err=True)
    if received:
        raise typer.Exit(128 + received[0])
    if pending:
        stays = "1 event stays" if pending == 1 else f"{pending} events stay"
        typer.echo(f"{stays} in the journal and will be re-sent on the next run", err=True)
        raise typer.Exit(2)
