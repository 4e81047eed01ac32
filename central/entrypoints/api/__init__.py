"""The REST API (CONTRACT §5): `create_app(central)` builds a FastAPI app around one Central."""

from speedledger.central.entrypoints.api.app import create_app

__all__ = ["create_app"]
