"""The retained-speed rule (CONTRACT section 3) as data: one home for central's fines and the radar's
decision, and the fields that carry it in the signed config. MicroPython-safe.

Retained speed = measured - `below_threshold_subtract_kmh` below `threshold_kmh`, measured x
`from_threshold_percent` % from it, truncated to whole km/h (the French default: 5 km/h, 95 %, 100 km/h).
All arithmetic is on integers (measured speed in 1/100 km/h), so no float can move a boundary.
"""

#: Config fields (additive to CONTRACT section 2's config) and the range each may take; a config
#: without them means the French default, so radars and configs of either age work together.
CONFIG_FIELDS = {
    "tolerance_kmh": (0, 50),
    "tolerance_pct": (0, 50),
    "tolerance_threshold_kmh": (0, 300),
}


class RetainedSpeedRule:
    def __init__(
        self, threshold_kmh: int = 100, below_threshold_subtract_kmh: int = 5, from_threshold_percent: int = 95
    ) -> None:
        self.threshold_kmh = threshold_kmh
        self.below_threshold_subtract_kmh = below_threshold_subtract_kmh
        self.from_threshold_percent = from_threshold_percent

    def retained_kmh(self, measured_speed_ckmh: int) -> int:
        """Measured minus the tolerance, truncated to whole km/h (never below 0)."""
        if measured_speed_ckmh >= self.threshold_kmh * 100:
            retained = measured_speed_ckmh * self.from_threshold_percent // 10_000
        else:
            retained = (measured_speed_ckmh - self.below_threshold_subtract_kmh * 100) // 100
        return max(retained, 0)

    def config_fields(self) -> dict:
        """The rule as the config's fields; ValueError when a value is outside what radars accept."""
        fields = {
            "tolerance_kmh": self.below_threshold_subtract_kmh,
            "tolerance_pct": 100 - self.from_threshold_percent,
            "tolerance_threshold_kmh": self.threshold_kmh,
        }
        for name in fields:
            low, high = CONFIG_FIELDS[name]
            if not low <= fields[name] <= high:
                raise ValueError(name + " must be between " + str(low) + " and " + str(high))
        return fields

    @classmethod
    def from_config_fields(cls, fields: dict) -> "RetainedSpeedRule":
        """The rule from checked config fields (`config_fields`' names; absent ones take the default)."""
        default = cls()
        return cls(
            fields.get("tolerance_threshold_kmh", default.threshold_kmh),
            fields.get("tolerance_kmh", default.below_threshold_subtract_kmh),
            100 - fields.get("tolerance_pct", 100 - default.from_threshold_percent),
        )
