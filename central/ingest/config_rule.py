"""Since when the deployment's retained-speed rule is in force, for the radar configs' `issued_at_ms`.

A radar takes a config only when its `issued_at_ms` is newer than the one it holds. A config's time
is that of the radar's current limit, or of the rule when that changed later (central started with
another fine schedule), so radars take the new rule at once. The rule and its start live in one row
(`ingest_config_rule`), updated only when the rule differs, so restarts and several workers with the
same rule keep the same time, hence the same signed bytes.
"""

from __future__ import annotations

from sqlalchemy import Engine, insert, select, update

from speedledger.central.eventstore.sql import WRITER_OPTION
from speedledger.central.ingest.tables import config_rule
from speedledger.shared import canonical
from speedledger.shared.retained_speed import RetainedSpeedRule

_ROW = 1


def rule_in_force_since(engine: Engine, rule: RetainedSpeedRule, now_ms: int) -> int:
    """When `rule` came into force: recorded now (and after the previous rule) if the row holds
    another rule, or none."""
    text = canonical.dumps(rule.config_fields()).decode()
    with engine.execution_options(**{WRITER_OPTION: True}).begin() as conn:
        row = conn.execute(select(config_rule.c.rule, config_rule.c.since_ms)).first()
        if row is not None and row.rule == text:
            return int(row.since_ms)
        if row is None:
            since_ms = now_ms
            conn.execute(insert(config_rule).values(row_id=_ROW, rule=text, since_ms=since_ms))
        else:
            since_ms = max(now_ms, int(row.since_ms) + 1)  # strictly newer, whatever the clock says
            conn.execute(update(config_rule).values(rule=text, since_ms=since_ms))
    return since_ms
