"""Runs and each tenant's read state (the delta watermark, the last full read)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select

from sync.model.report import RunReport
from sync.store import ids
from sync.store.schema import runs, sync_state


@dataclass(frozen=True, slots=True)
class ReadState:
    watermark: str | None
    last_full_at: datetime | None


def read_state(conn: Connection, tenant_id: str) -> ReadState | None:
    row = conn.execute(select(sync_state).where(sync_state.c.tenant_id == tenant_id)).first()
    return None if row is None else ReadState(row.watermark, row.last_full_at)


def save_read_state(
    conn: Connection, tenant_id: str, watermark: str | None, full_read_at: datetime | None
) -> None:
    """Stores a new watermark (None keeps the old one) and, after a full read, its time."""
    known = read_state(conn, tenant_id)
    values: dict[str, Any] = {"watermark": watermark or (known.watermark if known else None)}
    if full_read_at is not None:
        values["last_full_at"] = full_read_at
    if known is None:
        conn.execute(insert(sync_state).values(tenant_id=tenant_id, **values))
    else:
        conn.execute(
            sync_state.update().where(sync_state.c.tenant_id == tenant_id).values(**values)
        )


def record_run(conn: Connection, report: RunReport) -> None:
    conn.execute(
        insert(runs).values(
            id=report.run_id,
            tenant_id=report.tenant,
            status=report.status,
            dry_run=report.dry_run,
            full=report.full,
            started_at=report.started_at,
            finished_at=report.finished_at,
            report=json.dumps(report.as_json(), ensure_ascii=False),
        )
    )


def last_status(conn: Connection, tenant_id: str) -> str | None:
    """The status of the tenant's latest recorded run, or None before its first."""
    query = (
        select(runs.c.status)
        .where(runs.c.tenant_id == tenant_id)
        .order_by(runs.c.started_at.desc(), runs.c.finished_at.desc())
        .limit(1)
    )
    status: str | None = conn.execute(query).scalar()
    return status


def ids_starting(conn: Connection, prefix: str) -> list[str]:
    return ids.ids_starting(conn, runs.c.id, prefix)


def run_report(conn: Connection, run_id: str) -> dict[str, Any] | None:
    """One run's report (SPEC §7's JSON), or None."""
    text = conn.execute(select(runs.c.report).where(runs.c.id == run_id)).scalar()
    return None if text is None else dict(json.loads(text))


def recent_reports(conn: Connection, tenant_id: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest runs' reports (SPEC §7's JSON), newest first."""
    query = select(runs.c.report).order_by(runs.c.started_at.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(runs.c.tenant_id == tenant_id)
    return [json.loads(text) for (text,) in conn.execute(query)]


def status_counts(conn: Connection, tenant_id: str) -> dict[str, int]:
    """The tenant's recorded runs by status."""
    query = (
        select(runs.c.status, func.count())
        .where(runs.c.tenant_id == tenant_id, runs.c.dry_run.is_(False))
        .group_by(runs.c.status)
    )
    return {status: int(n) for status, n in conn.execute(query)}


def recent_runs(conn: Connection, tenant_id: str, limit: int) -> list[Row[Any]]:
    """The tenant's newest runs (status, started_at, finished_at, report), newest first."""
    query = (
        select(runs.c.status, runs.c.started_at, runs.c.finished_at, runs.c.report)
        .where(runs.c.tenant_id == tenant_id, runs.c.dry_run.is_(False))
        .order_by(runs.c.started_at.desc())
        .limit(limit)
    )
    return list(conn.execute(query))


def last_success(conn: Connection, tenant_id: str) -> datetime | None:
    """When the tenant's newest succeeded run finished, or None."""
    query = (
        select(runs.c.finished_at)
        .where(runs.c.tenant_id == tenant_id, runs.c.status == "succeeded")
        .order_by(runs.c.started_at.desc())
        .limit(1)
    )
    finished: datetime | None = conn.execute(query).scalar()
    return finished
