"""ESP32-class board build of the radar agent (MicroPython, mqtt_as). See docs/edge.md for its limits."""
