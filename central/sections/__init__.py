"""Sections: average-speed control between an entry and an exit radar (CONTRACT section 6)."""
