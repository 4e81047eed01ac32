"""MQTT ingest: verified violations into the event store, acks after commit, quarantine for the rest."""
