"""The wire contract in code: canonical JSON, plates, key ids, message schemas.

Modules here that the device needs (`canonical`, `plates`, `keys`, `violation`) import only what
MicroPython has, so they run unchanged on a radar.
"""
