"""Central's side of the MQTT contract, as small as it gets, for edge tests against a real broker.

Verifies each violation's signature, dedups by event_id and acks (accepted/duplicate); it can be
told to stay silent for some seqs (as if it crashed before committing). Not the real ingest: that
is central's, tested there.
"""

import json
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.edge.signing import verify
from speedledger.shared import canonical, keys, topics
from speedledger.shared import violation as spec


class FakeCentral:
    """Central's side of the contract, as small as it gets: verify, dedup by event_id, ack after 'commit'."""

    def __init__(self, url_port: int, public_key: bytes) -> None:
        self.public_key = public_key
        self.recorded: dict[str, dict[str, Any]] = {}
        self.deliveries: list[str] = []
        self.evidence: dict[str, bytes] = {}
        self.ignore_seq: set[int] = set()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-central", clean_session=False)
        client.reconnect_delay_set(1, 1)
        client.on_connect = lambda c, *_: c.subscribe([("speedledger/v1/radars/+/violations", 1),
                                                       ("speedledger/v1/radars/+/evidence/+", 1)])  # fmt: skip
        client.on_message = self._on_message
        client.connect_async("127.0.0.1", url_port)
        client.loop_start()
        self.client = client

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if "/evidence/" in message.topic:
            self.evidence[message.topic.rsplit("/", 1)[1]] = bytes(message.payload)
            return
        violation = json.loads(message.payload)
        spec.validate(violation)
        signature = keys.b64decode(violation["sig"])
        assert verify(self.public_key, canonical.signing_bytes(violation), signature)
        event_id = violation["event_id"]
        self.deliveries.append(event_id)
        if violation["seq"] in self.ignore_seq:
            return  # as if central crashed before committing: no ack
        result = "duplicate" if event_id in self.recorded else "accepted"
        self.recorded.setdefault(event_id, violation)
        ack = {"event_id": event_id, "seq": violation["seq"], "result": result, "reason": ""}
        client.publish(topics.acks(violation["radar_id"]), json.dumps(ack), 1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
