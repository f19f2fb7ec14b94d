"""Change sets (SPEC §10): stored when a run holds changes back, decided by an administrator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from sync.model.changeset import ChangeSet, ChangeSetStatus, HeldChange
from sync.model.ids import short_id
from sync.store import ids
from sync.store.bulk import to_json
from sync.store.schema import change_sets
from sync.timeutil import as_utc

PENDING = ChangeSetStatus.PENDING.value


def save(
    conn: Connection,
    tenant_id: str,
    run_id: str,
    kind: str,
    reason: str,
    changes: Sequence[HeldChange],
    now: datetime,
) -> str:
    """Stores a new pending set; a pending set of the same tenant and kind is superseded."""
    _end_pending(
        conn, tenant_id, [kind], ChangeSetStatus.SUPERSEDED, now,
        f"superseded by run {short_id(run_id)}, which held a newer set",
    )  # fmt: skip
    set_id = str(uuid.uuid4())
    conn.execute(
        insert(change_sets).values(
            id=set_id,
            tenant_id=tenant_id,
            run_id=run_id,
            kind=kind,
            count=len(changes),
            reason=reason,
            created_at=now,
            status=PENDING,
            changes=to_json([c.as_json() for c in changes]),
        )
    )
    return set_id


def supersede(
    conn: Connection, tenant_id: str, kinds: Sequence[str], run_id: str, now: datetime
) -> int:
    """Pending sets of `kinds` that a complete run no longer held: that run either no longer
    plans their changes (the directory recovered) or applied them (an approval), so the set
    would change nothing now (SPEC §14)."""
    return _end_pending(
        conn, tenant_id, kinds, ChangeSetStatus.SUPERSEDED, now,
        f"superseded by run {short_id(run_id)}, which no longer held these changes",
    )  # fmt: skip


def expire(conn: Connection, tenant_id: str, ttl: timedelta, now: datetime) -> int:
    """Pending sets older than the tenant's `change_set_ttl_hours` end as expired."""
    hours = ttl.total_seconds() / 3600
    return _end_pending(
        conn, tenant_id, None, ChangeSetStatus.EXPIRED, now,
        f"expired: not decided within {hours:g} hours", created_before=now - ttl,
    )  # fmt: skip


def _end_pending(
    conn: Connection,
    tenant_id: str,
    kinds: Sequence[str] | None,
    status: ChangeSetStatus,
    now: datetime,
    outcome: str,
    created_before: datetime | None = None,
) -> int:
    query = update(change_sets).where(
        change_sets.c.tenant_id == tenant_id, change_sets.c.status == PENDING
    )
    if kinds is not None:
        query = query.where(change_sets.c.kind.in_(kinds))
    if created_before is not None:
        query = query.where(change_sets.c.created_at < created_before)
    values = {"status": status.value, "decided_at": now, "decided_by": "run", "outcome": outcome}
    return conn.execute(query.values(**values)).rowcount


def ids_starting(conn: Connection, prefix: str) -> list[str]:
    return ids.ids_starting(conn, change_sets.c.id, prefix)


def tenants_pending(conn: Connection, tenant_id: str | None) -> list[str]:
    """The tenants with a pending set (of `tenant_id` only, when given)."""
    query = select(change_sets.c.tenant_id).where(change_sets.c.status == PENDING).distinct()
    if tenant_id is not None:
        query = query.where(change_sets.c.tenant_id == tenant_id)
    return [found for (found,) in conn.execute(query)]


def find(conn: Connection, set_id: str) -> ChangeSet | None:
    row = conn.execute(select(change_sets).where(change_sets.c.id == set_id)).first()
    return None if row is None else _change_set(row._mapping)


def held_changes(conn: Connection, set_id: str) -> list[HeldChange]:
    text = conn.execute(
        select(change_sets.c.changes).where(change_sets.c.id == set_id)
    ).scalar_one()
    return [HeldChange(**item) for item in json.loads(text)]


def listing(
    conn: Connection, tenant_id: str | None, status: str | None, limit: int = 100
) -> list[ChangeSet]:
    """The newest sets first."""
    query = select(change_sets).order_by(change_sets.c.created_at.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(change_sets.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(change_sets.c.status == status)
    return [_change_set(row._mapping) for row in conn.execute(query)]


def decide(
    conn: Connection,
    set_id: str,
    status: ChangeSetStatus,
    by: str,
    now: datetime,
    run_id: str | None = None,
) -> bool:
    """Marks a pending set approved or rejected; False when it was no longer pending (of two
    administrators deciding at once, exactly one succeeds)."""
    result = conn.execute(
        update(change_sets)
        .where(change_sets.c.id == set_id, change_sets.c.status == PENDING)
        .values(status=status.value, decided_at=now, decided_by=by, decided_run_id=run_id)
    )
    return result.rowcount == 1


def reopen(conn: Connection, set_id: str, run_id: str) -> None:
    """An approval whose run could not apply it goes back to pending."""
    conn.execute(
        update(change_sets)
        .where(change_sets.c.id == set_id, change_sets.c.decided_run_id == run_id)
        .values(status=PENDING, decided_at=None, decided_by=None, decided_run_id=None)
    )


def _change_set(row: RowMapping) -> ChangeSet:
    decided: Any = row["decided_at"]
    return ChangeSet(
        id=row["id"],
        tenant_id=row["tenant_id"],
        run_id=row["run_id"],
        kind=row["kind"],
        count=row["count"],
        reason=row["reason"],
        created_at=as_utc(row["created_at"]),
        status=ChangeSetStatus(row["status"]),
        decided_at=as_utc(decided) if decided else None,
        decided_by=row["decided_by"],
        decided_run_id=row["decided_run_id"],
        outcome=row["outcome"],
    )
