"""Section A7-S1 on a test central: two radars 10 km apart, a registered car, passages and what came of them."""

from __future__ import annotations

from typing import Any

from speedledger.central.infractions import queries
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.queries import InfractionView
from speedledger.central.radars.metrology import MetrologyRecord
from speedledger.central.sections.commands import CreateSection, RecordPassage
from speedledger.central.sections.queries import list_ambiguities
from tests.central.conftest import World
from tests.fixtures.metrology import VERIFIED

#: 12:00:00 and 10 km, limit 110 km/h, as in the contract's `section_examples`.
ENTRY_MS = 1_764_676_800_000


class Road:
    """Two radars 10 km apart forming section A7-S1, and a registered car."""

    def __init__(
        self,
        world: World,
        entry_metrology: tuple[MetrologyRecord, ...] = (VERIFIED,),
        exit_metrology: tuple[MetrologyRecord, ...] = (VERIFIED,),
    ) -> None:
        self.world = world
        self.central = world.central
        self.entry = world.radar("FR-A7-201", 130, entry_metrology)
        self.exit = world.radar("FR-A7-202", 130, exit_metrology)
        self.central.bus.handle(
            CreateSection(
                section_id="A7-S1",
                entry_radar_id="FR-A7-201",
                exit_radar_id="FR-A7-202",
                distance_m=10_000,
                speed_limit_kmh=110,
            )
        )
        self.owner = world.owner()
        world.vehicle("GZ123QK", self.owner)

    def record(self, message: dict[str, Any]) -> str:
        result: str = self.central.bus.handle(RecordPassage(message=message))
        return result

    def trip(self, seconds: int, plate: str = "GZ123QK", start_ms: int = ENTRY_MS) -> tuple[dict[str, Any], ...]:
        """An entry and an exit passage `seconds` apart, with the contract example's clock uncertainties."""
        entry = self.entry.passage(passed_at_ms=start_ms, plate=plate, clock_uncertainty_ms=20)
        exit = self.exit.passage(passed_at_ms=start_ms + seconds * 1000, plate=plate, clock_uncertainty_ms=30)
        return entry, exit

    def infractions(self, kind: InfractionKind | None = None) -> list[InfractionView]:
        with self.central.engine.connect() as conn:
            return queries.list_infractions(conn, kind=kind).items

    def ambiguities(self) -> list[dict[str, Any]]:
        """As operators see them (the plate opened while its window is open)."""
        with self.central.engine.connect() as conn:
            return [view.model_dump() for view in list_ambiguities(conn, "A7-S1", self.central.passages)]
