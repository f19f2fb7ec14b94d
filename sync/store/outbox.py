"""The outbox: emails written in the run's transaction and delivered afterwards (SPEC §6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select

from sync.store.bulk import insert_rows
from sync.store.schema import outbox, reset_tokens


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
