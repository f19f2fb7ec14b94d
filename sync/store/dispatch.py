"""The dispatcher's state: each tenant's next scheduled tick, and the run queued for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from sync.store.schema import tenant_dispatch
from sync.timeutil import as_utc


def next_due(conn: Connection) -> dict[str, datetime]:
    """Every tenant's next tick, locked for this dispatcher pass (FOR UPDATE on PostgreSQL)."""
    rows = conn.execute(
        select(tenant_dispatch.c.tenant_id, tenant_dispatch.c.next_due_at).with_for_update()
    )
    return {tenant_id: as_utc(due) for tenant_id, due in rows}


def forget_dispatch(conn: Connection, tenant_ids: set[str]) -> None:
    """Tenants no longer run (disabled, gone): no next tick, so no lag is reported for them."""
    from sqlalchemy import delete

    if tenant_ids:
        conn.execute(delete(tenant_dispatch).where(tenant_dispatch.c.tenant_id.in_(tenant_ids)))


def schedule_first(conn: Connection, tenant_id: str, due_at: datetime) -> None:
    conn.execute(insert(tenant_dispatch).values(tenant_id=tenant_id, next_due_at=due_at))


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
    from sqlalchemy import func

    value = conn.execute(select(func.min(tenant_dispatch.c.next_due_at))).scalar()
    return None if value is None else as_utc(value)


def due_outbox_ids(conn: Connection, tenant_id: str, now: datetime) -> list[int]:
    """The tenant's pending emails that are due: a per-tenant delivery job sends just these."""
    from sync.store.schema import outbox

    rows = conn.execute(
        select(outbox.c.id).where(
            outbox.c.tenant_id == tenant_id,
            outbox.c.status == "pending",
            outbox.c.next_attempt_at <= now,
        )
    )
    return [int(i) for (i,) in rows]
