"""The audit stream's cursor and its lease (SPEC §19): one row, `audit_stream`. A process sends
only while it holds the lease (renewed on every round); it moves the cursor only while still
holding it, so a process that lost its lease (stalled past it) can never move the cursor of the
one that took over. Works alike on SQLite and PostgreSQL: plain UPDATEs, no server lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from sync.store.schema import audit_stream

NAME = "default"
_row = audit_stream.c


def take(engine: Engine, holder: str, now: datetime, until: datetime) -> int | None:
    """Takes or renews the lease until `until`; the cursor (last id sent) if held, else None."""
    with engine.begin() as conn:
        result = conn.execute(
            update(audit_stream)
            .where(
                _row.name == NAME,
                or_(_row.holder == holder, _row.holder.is_(None), _row.lease_until < now),
            )
            .values(holder=holder, lease_until=until)
        )
        if result.rowcount == 1:
            return int(conn.execute(select(_row.sent_id).where(_row.name == NAME)).scalar_one())
        missing = conn.execute(select(_row.name).where(_row.name == NAME)).first() is None
    if missing:  # migration 0013 makes the row; a store made otherwise lacks it
        _create(engine)
    return None


def _create(engine: Engine) -> None:
    """The cursor's row at 0, unless another process made it first."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(audit_stream).values(name=NAME, sent_id=0))
    except IntegrityError:
        pass


def advance(engine: Engine, holder: str, sent_id: int, now: datetime) -> bool:
    """Moves the cursor to `sent_id`; False when `holder` no longer holds the lease."""
    with engine.begin() as conn:
        result = conn.execute(
            update(audit_stream)
            .where(_row.name == NAME, _row.holder == holder, _row.sent_id <= sent_id)
            .values(sent_id=sent_id, sent_at=now)
        )
        return result.rowcount == 1


def release(engine: Engine, holder: str) -> None:
    """Gives the lease up (a process stopping): another may take it at once."""
    with engine.begin() as conn:
        conn.execute(
            update(audit_stream)
            .where(_row.name == NAME, _row.holder == holder)
            .values(holder=None, lease_until=None)
        )


def position(engine: Engine) -> tuple[int, str | None]:
    """The cursor and its holder, for tests and the health of the stream."""
    with engine.connect() as conn:
        row = conn.execute(select(_row.sent_id, _row.holder).where(_row.name == NAME)).one()
        return int(row.sent_id), row.holder
