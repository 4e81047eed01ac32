"""Plate normalisation (CONTRACT section 3) and the French SIV format check. MicroPython-safe."""

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
# SIV plates (AA-123-AA) never use I, O or U.
SIV_LETTERS = "ABCDEFGHJKLMNPQRSTVWXYZ"


def normalise(plate: str) -> str:
    """Uppercase and keep only A-Z and 0-9: `ab-123 cd` becomes `AB123CD`."""
    return "".join(char for char in plate.upper() if char in LETTERS or char in DIGITS)


def is_french_siv(plate: str) -> bool:
    """True for a normalised plate in the French SIV format, e.g. `GZ123QK`."""
    if len(plate) != 7:
        return False
    letters = plate[0:2] + plate[5:7]
    digits = plate[2:5]
    return all(char in SIV_LETTERS for char in letters) and all(char in DIGITS for char in digits)
