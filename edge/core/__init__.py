"""The portable edge core: runs unchanged on CPython and MicroPython (no typing, dataclasses or numpy)."""
