"""The wire contract in code: canonical JSON, plates, key ids, topics, message schemas.

Modules here that the device needs (the list is in speedledger/layout.py) import only what
MicroPython has, so they run unchanged on a radar.
"""
