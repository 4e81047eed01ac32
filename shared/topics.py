"""MQTT topics of the wire contract (CONTRACT section 2), for radar and central alike. MicroPython-safe.

Radar topics live under `speedledger/v1/radars/{radar_id}/`; central announces its own liveness
under `speedledger/v1/central/{client_id}/status` (a project addition, see docs/mqtt.md).
"""

ROOT = "speedledger/v1/radars/"
CENTRAL_ROOT = "speedledger/v1/central/"

#: The default broker URL of radar and central alike (CONTRACT section 4).
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


def radar_topic(radar_id: str, suffix: str) -> str:
    return ROOT + radar_id + "/" + suffix


def violations(radar_id: str) -> str:
    return radar_topic(radar_id, "violations")


def passages(radar_id: str) -> str:
    """Section control (CONTRACT section 6)."""
    return radar_topic(radar_id, "passages")


def evidence(radar_id: str, event_id: str) -> str:
    return radar_topic(radar_id, "evidence/" + event_id)


def status(radar_id: str) -> str:
    return radar_topic(radar_id, "status")


def acks(radar_id: str) -> str:
    return radar_topic(radar_id, "acks")


def config(radar_id: str) -> str:
    return radar_topic(radar_id, "config")


def central_status(client_id: str) -> str:
    return CENTRAL_ROOT + client_id + "/status"


def split_radar_topic(topic: str) -> "tuple[str, list[str]] | None":
    """(radar_id segment, remaining segments) of a topic under ROOT, or None for any other topic."""
    if not topic.startswith(ROOT):
        return None
    parts = topic[len(ROOT) :].split("/")
    return parts[0], parts[1:]


def central_client_id(topic: str) -> "str | None":
    """The client id of a central status topic, or None for any other topic."""
    if not topic.startswith(CENTRAL_ROOT):
        return None
    rest = topic[len(CENTRAL_ROOT) :]
    return rest[: -len("/status")] if rest.endswith("/status") else rest
