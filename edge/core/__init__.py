"""The portable edge core: runs unchanged on CPython and MicroPython (no typing, dataclasses or numpy).

`ports.py` is the exception: Protocols for the type checkers, imported only under TYPE_CHECKING.
"""
