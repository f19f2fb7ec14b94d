"""The outbox: emails written in the run's transaction and delivered afterwards (SPEC §6)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, func, insert, select, update

from sync.model.enums import OutboxStatus
from sync.store.bulk import insert_rows
from sync.store.schema import accounts, outbox, reset_tokens


def insert_messages(
    conn: Connection,
    tokens: Sequence[Mapping[str, Any]],
    messages: Sequence[Mapping[str, Any]],
) -> None:
    """Many tokens and messages at once (a run's batch), by the driver's fastest path."""
    insert_rows(conn, reset_tokens, tokens)
    insert_rows(conn, outbox, messages)


def insert_message(
    conn: Connection, token: Mapping[str, Any] | None, message: Mapping[str, Any]
) -> int:
    """One message (an administrator's action), returning its outbox id."""
    if token is not None:
        conn.execute(insert(reset_tokens).values(**token))
    return int(conn.execute(insert(outbox).values(**message).returning(outbox.c.id)).scalar_one())


def message(conn: Connection, outbox_id: int) -> RowMapping:
    """One outbox row, as stored."""
    return conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()._mapping


def due(
    conn: Connection, now: datetime | None, after: int, limit: int, only: Collection[int] | None
) -> list[Row[Any]]:
    """Pending messages after id `after`, oldest first: those due by `now` (None: all)."""
    query = (
        select(outbox)
        .where(outbox.c.status == OutboxStatus.PENDING, outbox.c.id > after)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if now is not None:
        query = query.where(outbox.c.next_attempt_at <= now)
    if only is not None:
        query = query.where(outbox.c.id.in_(list(only)))
    return list(conn.execute(query))


def mark_sent(conn: Connection, outbox_id: int, attempts: int, now: datetime) -> None:
    """Delivered: the clear token goes (the stored copy holds no usable link)."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id == outbox_id)
        .values(
            status=OutboxStatus.SENT, sent_at=now, attempts=attempts, token=None, last_error=None
        )
    )


def mark_refused(
    conn: Connection,
    outbox_id: int,
    attempts: int,
    error: str,
    *,
    final: bool,
    next_attempt_at: datetime | None,
) -> None:
    """Refused: failed for good (its token dropped), or to be tried again at `next_attempt_at`."""
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000]}
    if final:
        values.update(status=OutboxStatus.FAILED, token=None)
        _invitation_failed(conn, outbox_id)
    else:
        values["next_attempt_at"] = next_attempt_at
    conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(**values))


def _invitation_failed(conn: Connection, outbox_id: int) -> None:
    """An account_created that failed for good: its account is owed an invitation again, once
    it has another address (accounts.invited, read by the next run's plan)."""
    found = conn.execute(
        select(outbox.c.account_id, outbox.c.to_address).where(
            outbox.c.id == outbox_id, outbox.c.kind == "account_created"
        )
    ).first()
    if found is not None and found.account_id is not None:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == found.account_id)
            .values(invited=False, invite_failed_to=found.to_address)
        )


def failed(conn: Connection, tenant_id: str | None, limit: int) -> tuple[int, list[Row[Any]]]:
    """(how many messages are marked failed, the newest `limit` of them)."""
    where = [outbox.c.status == OutboxStatus.FAILED]
    if tenant_id is not None:
        where.append(outbox.c.tenant_id == tenant_id)
    total = int(conn.execute(select(func.count()).where(*where)).scalar_one())
    rows = conn.execute(select(outbox).where(*where).order_by(outbox.c.id.desc()).limit(limit))
    return total, list(rows)


def failed_by_run(conn: Connection, tenant_id: str | None) -> dict[str, dict[str, int]]:
    """Failed messages by tenant, then by run id ("" for those no run queued)."""
    query = (
        select(outbox.c.tenant_id, outbox.c.run_id, func.count())
        .where(outbox.c.status == OutboxStatus.FAILED)
        .group_by(outbox.c.tenant_id, outbox.c.run_id)
    )
    if tenant_id is not None:
        query = query.where(outbox.c.tenant_id == tenant_id)
    counts: dict[str, dict[str, int]] = {}
    for tenant, run_id, n in conn.execute(query):
        counts.setdefault(tenant, {})[run_id or ""] = int(n)
    return counts


def pending_total(conn: Connection) -> int:
    """Every message still pending, due or waiting (an index range: cheap)."""
    query = select(func.count()).select_from(outbox).where(outbox.c.status == OutboxStatus.PENDING)
    return int(conn.execute(query).scalar_one())


def status_counts(conn: Connection) -> dict[str, int]:
    query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
    return {status: int(n) for status, n in conn.execute(query)}


def tenant_status_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Pending and failed messages by (tenant, status)."""
    rows = conn.execute(
        select(outbox.c.tenant_id, outbox.c.status, func.count())
        .where(outbox.c.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)))
        .group_by(outbox.c.tenant_id, outbox.c.status)
    )
    return {(tenant, status): int(n) for tenant, status, n in rows}
