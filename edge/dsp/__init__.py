"""Doppler radar signal processing (numpy/scipy, Linux-class boards).

`DopplerProcessor` turns a stream of complex IQ samples into one `VehiclePass` per vehicle;
`measure_wav` does the same for an IQ recording. The algorithm and its metrology choices are
described in docs/dsp.md.
"""

from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.dsp.doppler import DEFAULT_CARRIER_HZ, hz_per_kmh
from speedledger.edge.dsp.processor import (
    DopplerProcessor,
    ProcessorConfig,
    iter_iq_wav,
    measure_wav,
    read_iq_wav,
)

__all__ = [
    "DEFAULT_CARRIER_HZ",
    "DopplerProcessor",
    "ProcessorConfig",
    "VehiclePass",
    "hz_per_kmh",
    "iter_iq_wav",
    "measure_wav",
    "read_iq_wav",
]
