"""Plate capture: the PlateReader port and the Tesseract/OpenCV reader (Linux-class boards only).

The MicroPython edge core never imports this package. `TesseractPlateReader` lives in
`speedledger.edge.plates.tesseract` so that importing the port costs no OpenCV or Tesseract load.
"""

from speedledger.edge.plates.port import FRENCH_SIV, NO_PLATE, PlateFormat, PlateRead, PlateReader

__all__ = ["FRENCH_SIV", "NO_PLATE", "PlateFormat", "PlateRead", "PlateReader"]
