"""The agency dashboard: server-rendered pages at `/`, on the API's tokens and roles (docs/dashboard.md)."""

from speedledger.central.entrypoints.dashboard.app import install_dashboard

__all__ = ["install_dashboard"]
