"""Edge: the radar agent. `core/` is portable to MicroPython; DSP and adapters run on Linux-class boards."""
