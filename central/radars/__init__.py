"""Radars: registration, speed limit and status history, signing keys (rotation and revocation)."""
