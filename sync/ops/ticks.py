"""Scheduler replicas share the work: each tenant's tick is claimed by one of them.

The claim is a row keyed by (tenant, tick time); the database's primary key lets exactly one
insert win. Every replica computes the same tick time from the same crontab, so replicas need no
other coordination than the store they already share. The tenant's run lock still guards the run
itself (a tick claimed while a manual `sync` holds the tenant ends `skipped_locked`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError

from sync.report import RunReport
from sync.store.engine import writing
from sync.store.schema import schedule_ticks
from sync.timeutil import utc_now

KEEP_CLAIMS = timedelta(days=2)


def claim_tick(engine: Engine, tenant_id: str, tick: datetime, worker: str) -> bool:
    """True if this worker now owns the tick; False if another worker claimed it first."""
    try:
        with writing(engine) as conn:
            conn.execute(
                insert(schedule_ticks).values(
                    tenant_id=tenant_id, tick_at=tick, worker=worker, claimed_at=utc_now()
                )
            )
    except IntegrityError:
        return False
    return True


def record_tick(engine: Engine, tenant_id: str, tick: datetime, report: RunReport) -> None:
    with writing(engine) as conn:
        conn.execute(
            update(schedule_ticks)
            .where(schedule_ticks.c.tenant_id == tenant_id, schedule_ticks.c.tick_at == tick)
            .values(run_id=report.run_id, status=report.status)
        )


def prune_ticks(engine: Engine, keep: timedelta = KEEP_CLAIMS) -> int:
    with writing(engine) as conn:
        result = conn.execute(
            delete(schedule_ticks).where(schedule_ticks.c.claimed_at < utc_now() - keep)
        )
    return result.rowcount
