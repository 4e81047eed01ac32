"""Infractions: verified violations, the process manager that decides infractions, their lifecycle."""
