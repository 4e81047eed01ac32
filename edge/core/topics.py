"""MQTT topics of one radar (CONTRACT section 2). MicroPython-safe."""

ROOT = "speedledger/v1/radars/"


def radar_topic(radar_id: str, suffix: str) -> str:
    return ROOT + radar_id + "/" + suffix


def violations(radar_id: str) -> str:
    return radar_topic(radar_id, "violations")


def evidence(radar_id: str, event_id: str) -> str:
    return radar_topic(radar_id, "evidence/" + event_id)


def status(radar_id: str) -> str:
    return radar_topic(radar_id, "status")


def acks(radar_id: str) -> str:
    return radar_topic(radar_id, "acks")


def config(radar_id: str) -> str:
    return radar_topic(radar_id, "config")
