"""The dispatcher's state: each tenant's next scheduled tick, and the run queued for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sync.model.enums import OutboxStatus
from sync.store.schema import outbox, tenant_dispatch, tenants
from sync.timeutil import as_utc

PASS_LOCK_WAIT = "10s"  # a live pass holds its rows for milliseconds


@dataclass(frozen=True, slots=True)
class Timing:
    """What a tenant's tick is computed from: its settings' version and "schedule timezone"."""

    version: int
    schedule: str


def due_by(conn: Connection, now: datetime) -> dict[str, datetime]:
    """The tenants whose tick has come by `now`, with it, locked for this dispatcher pass (FOR
    UPDATE on PostgreSQL). A pass reads only these: most passes find none of 5,000 tenants.
    Ticks another pass holds are skipped, not waited for: that pass queues them, and a pass
    whose worker froze holding them would otherwise hold this worker too, until the frozen one
    is fenced, which takes a worker with a free slot (SPEC §15)."""
    rows = conn.execute(
        select(tenant_dispatch.c.tenant_id, tenant_dispatch.c.next_due_at)
        .where(tenant_dispatch.c.next_due_at <= now)
        .with_for_update(skip_locked=True)
    )
    return {tenant_id: as_utc(due) for tenant_id, due in rows}


def bound_lock_waits(conn: Connection) -> None:
    """The rest of this transaction waits at most PASS_LOCK_WAIT for a row another transaction
    holds (a first tick two passes insert, a schedule two passes re-time), then fails: a pass
    held by one whose worker froze fails and the next pass tries again, rather than keep this
    worker's slot (PostgreSQL; SQLite's writes are serial)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{PASS_LOCK_WAIT}'")


def resettled(conn: Connection) -> dict[str, str | None]:
    """Scheduled tenants whose settings were saved since their tick was computed, with the
    schedule that tick came from ("EXPRESSION ZONE", None before 0008): the pass compares it
    with the schedule now. A version column on both sides keeps this one cheap join."""
    query = select(tenant_dispatch.c.tenant_id, tenant_dispatch.c.schedule).where(
        tenants.c.id == tenant_dispatch.c.tenant_id,
        tenants.c.enabled,
        or_(
            tenant_dispatch.c.settings_version.is_(None),
            tenant_dispatch.c.settings_version != tenants.c.version,
        ),
    )
    return {tenant_id: schedule for tenant_id, schedule in conn.execute(query)}


def retime(conn: Connection, tenant_id: str, timing: Timing, next_due_at: datetime | None) -> None:
    """Records the settings a tick now comes from; a new `next_due_at` replaces the old tick."""
    values: dict[str, object] = {"settings_version": timing.version, "schedule": timing.schedule}
    if next_due_at is not None:
        values["next_due_at"] = next_due_at
    conn.execute(
        update(tenant_dispatch).where(tenant_dispatch.c.tenant_id == tenant_id).values(**values)
    )


def unscheduled(conn: Connection) -> list[str]:
    """Enabled tenants with no tick yet (new, or enabled again)."""
    scheduled = select(tenant_dispatch.c.tenant_id).where(
        tenant_dispatch.c.tenant_id == tenants.c.id
    )
    query = select(tenants.c.id).where(tenants.c.enabled, ~scheduled.exists())
    return [tenant_id for (tenant_id,) in conn.execute(query)]


def forget_unrun(conn: Connection) -> None:
    """Ticks of tenants no longer run (disabled, gone) go: no lag is reported for them."""
    running = select(tenants.c.id).where(
        tenants.c.id == tenant_dispatch.c.tenant_id, tenants.c.enabled
    )
    conn.execute(delete(tenant_dispatch).where(~running.exists()))


def forget_dispatch(conn: Connection, tenant_ids: set[str]) -> None:
    """These tenants' ticks go (their stored settings no longer validate)."""
    if tenant_ids:
        conn.execute(delete(tenant_dispatch).where(tenant_dispatch.c.tenant_id.in_(tenant_ids)))


def schedule_first(conn: Connection, tenant_id: str, due_at: datetime, timing: Timing) -> None:
    """The tenant's first tick, unless another dispatcher pass gave it one meanwhile (passes of
    several workers may overlap: they need no lock of their own, see sync.entry.fleet.app)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(tenant_dispatch)
        .values(
            tenant_id=tenant_id,
            next_due_at=due_at,
            settings_version=timing.version,
            schedule=timing.schedule,
        )
        .on_conflict_do_nothing(index_elements=[tenant_dispatch.c.tenant_id])
    )


def record_dispatch(
    conn: Connection,
    tenant_id: str,
    next_due_at: datetime,
    due_at: datetime,
    now: datetime,
    merged: bool,
) -> None:
    """The tick `due_at` was queued as a run at `now`, or merged into the run already queued."""
    values: dict[str, object] = {"next_due_at": next_due_at}
    if merged:
        values["merged_ticks"] = tenant_dispatch.c.merged_ticks + 1
    else:
        values.update(queued_at=now, queued_due_at=due_at)
    conn.execute(
        update(tenant_dispatch).where(tenant_dispatch.c.tenant_id == tenant_id).values(**values)
    )


def merged_ticks(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(tenant_dispatch.c.tenant_id, tenant_dispatch.c.merged_ticks))
    return {tenant_id: int(n) for tenant_id, n in rows}


def oldest_due(conn: Connection) -> datetime | None:
    """The earliest tick still waiting to be dispatched (lag when it is in the past)."""
    value = conn.execute(select(func.min(tenant_dispatch.c.next_due_at))).scalar()
    return None if value is None else as_utc(value)


def due_outbox_ids(conn: Connection, tenant_id: str, now: datetime) -> list[int]:
    """The tenant's pending emails that are due: a per-tenant delivery job sends just these."""
    rows = conn.execute(
        select(outbox.c.id).where(
            outbox.c.tenant_id == tenant_id,
            outbox.c.status == OutboxStatus.PENDING,
            outbox.c.next_attempt_at <= now,
        )
    )
    return [int(i) for (i,) in rows]


def due_tenant_ids(conn: Connection, now: datetime) -> list[str]:
    """The tenants with pending email due by `now` (the outbox's due index: cheap when none)."""
    rows = conn.execute(
        select(outbox.c.tenant_id)
        .where(outbox.c.status == OutboxStatus.PENDING, outbox.c.next_attempt_at <= now)
        .distinct()
    )
    return [tenant_id for (tenant_id,) in rows]
