"""The audit (SPEC §10): one event per change to an account, written in the transaction of the
change it describes. Fields are {name: [before, after]}; never a password, hash or token."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    RowMapping,
    Text,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
)

from sync.model.actor import ON_DEMAND_ACTOR, Actor
from sync.store.accounts import inserted_after
from sync.store.bulk import insert_rows, to_json
from sync.store.schema import account_events
from sync.timeutil import as_utc

FieldChanges = Mapping[str, tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class Event:
    """What happened to one account, as the store records it."""

    account_id: int
    account_name: str
    action: str
    fields: FieldChanges


def record(
    conn: Connection, tenant_id: str, actor: Actor, events: Sequence[Event], now: datetime
) -> None:
    """Writes the events in the caller's transaction, by the store's fastest path."""
    _with_transaction_id(conn)
    insert_rows(
        conn,
        account_events,
        [
            {
                "tenant_id": tenant_id,
                "account_id": e.account_id,
                "account_name": e.account_name,
                "at": now,
                "actor": actor.name,
                "run_id": actor.run_id,
                "action": e.action,
                "fields": to_json({k: list(v) for k, v in e.fields.items()}),
            }
            for e in events
        ],
    )


def record_created(
    conn: Connection, tenant_id: str, actor: Actor, after_id: int, now: datetime
) -> None:
    """A `created` event for each account of the tenant inserted in this transaction at `now`
    with an id above `after_id`, its fields the name and the address it was created with. The
    database builds them from the new rows: a first run's 100,000 events made and encoded here
    cost about a second more."""
    _with_transaction_id(conn)
    new = inserted_after(after_id)
    events = account_events.c
    rows = select(
        new.c.tenant_id,
        new.c.id,
        new.c.name,
        literal(now, events.at.type),
        literal(actor.name, events.actor.type),
        literal(actor.run_id, events.run_id.type),
        literal("created", events.action.type),
        _created_fields(conn.dialect.name, new),
    ).where(new.c.tenant_id == tenant_id, new.c.created_at == now)
    columns = ["tenant_id", "account_id", "account_name", "at", "actor", "run_id", "action",
               "fields"]  # fmt: skip
    conn.execute(insert(account_events).from_select(columns, rows))


def _with_transaction_id(conn: Connection) -> None:
    """PostgreSQL: the transaction takes its id (if it has none yet) before its events take
    theirs, so that any snapshot taken once an event id is drawn lists the transaction as in
    progress until it ends: the audit stream (sync/services/audit_stream.py) relies on it to
    tell a gap that will fill from one that never will. Without it, the id would be drawn a
    moment before the transaction's id, within the INSERT."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_current_xact_id()"))


def _created_fields(dialect: str, inserted: CTE) -> ColumnElement[Any]:
    """{"name": [null, name], "primary_email": [null, address]} as JSON text, the address left
    out when the account has none."""
    new = inserted.c
    if dialect == "postgresql":
        pair, array = func.jsonb_build_object, func.jsonb_build_array
    else:  # SQLite's JSON1, built in
        pair, array = func.json_object, func.json_array
    name = ("name", array(null(), new.name))
    with_address = pair(*name, "primary_email", array(null(), new.primary_email))
    fields = case(
        (or_(new.primary_email.is_(None), new.primary_email == ""), pair(*name)),
        else_=with_address,
    )
    return cast(fields, Text)


def account_history(conn: Connection, tenant_id: str, account_id: int) -> list[dict[str, Any]]:
    """The account's events, oldest first."""
    query = (
        select(account_events)
        .where(account_events.c.tenant_id == tenant_id, account_events.c.account_id == account_id)
        .order_by(account_events.c.id)
    )
    return [_public(row._mapping) for row in conn.execute(query)]


def run_events(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """Every event a run wrote, in order."""
    query = select(account_events).where(account_events.c.run_id == run_id)
    return [_public(row._mapping) for row in conn.execute(query.order_by(account_events.c.id))]


def purge(conn: Connection, tenant_id: str, older_than: datetime) -> int:
    """Drops the tenant's events older than its retention; how many."""
    result = conn.execute(
        delete(account_events).where(
            account_events.c.tenant_id == tenant_id, account_events.c.at < older_than
        )
    )
    return int(result.rowcount or 0)


def _public(row: RowMapping) -> dict[str, Any]:
    return {
        "at": as_utc(row["at"]).isoformat(),
        "account": row["account_name"],
        "actor": row["actor"],
        "on_demand": row["actor"] == ON_DEMAND_ACTOR,
        "run_id": row["run_id"],
        "action": row["action"],
        "fields": json.loads(row["fields"]),
    }
