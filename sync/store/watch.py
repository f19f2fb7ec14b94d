"""Each tenant's watch (SPEC §15): when its last run ended and when it becomes overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sync.store.schema import tenant_watch, tenants
from sync.timeutil import as_utc


@dataclass(frozen=True, slots=True)
class Watch:
    tenant_id: str
    last_ended_at: datetime | None
    overdue_at: datetime
    overdue_since: datetime | None


def run_ended(conn: Connection, tenant_id: str, ended_at: datetime, overdue_at: datetime) -> bool:
    """Records that a run of the tenant ended; True when the tenant was overdue until now."""
    was = conn.execute(
        select(tenant_watch.c.overdue_since).where(tenant_watch.c.tenant_id == tenant_id)
    ).first()
    values: dict[str, object] = {
        "last_ended_at": ended_at,
        "overdue_at": overdue_at,
        "overdue_since": None,
    }
    _upsert(conn, tenant_id, values, values)
    return was is not None and was.overdue_since is not None


def watch_new(conn: Connection, tenant_id: str, overdue_at: datetime) -> None:
    """A tenant seen for the first time is overdue if no run of it ends by `overdue_at`."""
    _upsert(conn, tenant_id, {"overdue_at": overdue_at}, None)


def retime(conn: Connection, tenant_id: str, overdue_at: datetime) -> None:
    """A changed schedule moves the moment the tenant becomes overdue."""
    conn.execute(
        update(tenant_watch)
        .where(tenant_watch.c.tenant_id == tenant_id)
        .values(overdue_at=overdue_at)
    )


def unwatched(conn: Connection) -> list[str]:
    """Enabled tenants with no watch yet."""
    watched = select(tenant_watch.c.tenant_id).where(tenant_watch.c.tenant_id == tenants.c.id)
    query = select(tenants.c.id).where(tenants.c.enabled, ~watched.exists())
    return [tenant_id for (tenant_id,) in conn.execute(query)]


def becoming_overdue(conn: Connection, now: datetime) -> list[str]:
    """Enabled tenants past their `overdue_at` and not yet marked: marked overdue since `now`
    (this pass tells about them; FOR UPDATE keeps two passes from both telling)."""
    due = conn.execute(
        select(tenant_watch.c.tenant_id)
        .where(
            tenant_watch.c.overdue_at <= now,
            tenant_watch.c.overdue_since.is_(None),
            tenant_watch.c.tenant_id.in_(select(tenants.c.id).where(tenants.c.enabled)),
        )
        .with_for_update(skip_locked=True)
    )
    found = [tenant_id for (tenant_id,) in due]
    if found:
        conn.execute(
            update(tenant_watch)
            .where(tenant_watch.c.tenant_id.in_(found))
            .values(overdue_since=now)
        )
    return found


def watches(conn: Connection, only_overdue: bool = False) -> list[Watch]:
    """The enabled tenants' watches (the overdue ones only, when asked), by tenant."""
    enabled = tenant_watch.c.tenant_id.in_(select(tenants.c.id).where(tenants.c.enabled))
    query = select(tenant_watch).where(enabled).order_by(tenant_watch.c.tenant_id)
    if only_overdue:
        query = query.where(tenant_watch.c.overdue_since.is_not(None))
    return [_watch(row) for row in conn.execute(query)]


def _watch(row: Row[Any]) -> Watch:
    last, since = row.last_ended_at, row.overdue_since
    return Watch(
        row.tenant_id,
        as_utc(last) if last is not None else None,
        as_utc(row.overdue_at),
        as_utc(since) if since is not None else None,
    )


def _upsert(
    conn: Connection,
    tenant_id: str,
    values: dict[str, object],
    on_conflict: dict[str, object] | None,
) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(tenant_watch).values(tenant_id=tenant_id, **values)
    key = [tenant_watch.c.tenant_id]
    if on_conflict is None:
        conn.execute(statement.on_conflict_do_nothing(index_elements=key))
    else:
        conn.execute(statement.on_conflict_do_update(index_elements=key, set_=on_conflict))
