"""When a tenant whose runs stopped is overdue (SPEC §15): no run of it has ended (succeeded,
blocked or failed) for two of its ticks plus the run time limit. Pure: the time it is measured
from is passed in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sync.planning.schedule import schedule_trigger

TICKS = 2
TICK = timedelta(microseconds=1)  # just after: a run that ended on a tick counts it as its own


def overdue_at(schedule: str, timezone: str, since: datetime, run_timeout: timedelta) -> datetime:
    """The moment a tenant whose last run ended at `since` (or that was first scheduled then)
    becomes overdue: its second tick after `since`, plus the time a run may take."""
    trigger: Any = schedule_trigger(schedule, timezone)
    tick = since
    for _ in range(TICKS):
        following: datetime | None = trigger.get_next_fire_time(
            None, tick + timedelta(microseconds=1)
        )
        if following is None:  # a schedule that never fires again: never overdue by it
            return datetime.max.replace(tzinfo=since.tzinfo)
        tick = following
    return tick + run_timeout
