"""What a run starts from (SPEC §5): the stored accounts it plans against, the active count the
guards' percent bounds use, the names already taken, and whether it reads everything.

Three shapes: a normal run loads every account of the tenant; a date sweep (SPEC §16) only the
accounts whose dates may act now; a plan of one person read alone (`explain`, `sync --only`,
SPEC §18) only that person's account, the held names asked of the store as the plan looks them
up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from sync.compose.collisions import NameBook
from sync.config.settings import TenantSettings
from sync.model import AccountState
from sync.model.names import name_key
from sync.planning.dates import Calendar
from sync.store.accounts import (
    AskedNames,
    count_active,
    due_states,
    load_states,
    quarantine_start,
    released_names_since,
    released_to,
)
from sync.store.runs import read_state
from sync.timeutil import as_utc, utc_now


@dataclass(frozen=True, slots=True)
class RunState:
    watermark: str | None  # the delta watermark to read from, None for a full read
    full: bool  # whether this run reads everything
    states: dict[str, AccountState]
    active: int
    book: NameBook


@dataclass(frozen=True, slots=True)
class Shape:
    full: bool = False  # asked for a full read (`sync --full`)
    date_sweep: bool = False
    alone: str | None = None  # the one person read alone, by source id


def run_state(
    engine: Engine, tenant: TenantSettings, started: datetime, calendar: Calendar, shape: Shape
) -> RunState:
    since_released = quarantine_start(started, tenant.name_quarantine_days)
    reserved = {name_key(name) for name in tenant.reserved_names}
    with engine.connect() as conn:
        if shape.alone is not None:  # whatever their change time: their entry is read
            states = load_states(conn, tenant.id, (shape.alone,))
            held = AskedNames(engine, tenant.id)
            book = NameBook(held=held, reserved=reserved,
                            quarantined=released_to(conn, tenant.id, since_released))  # fmt: skip
            return RunState(None, True, states, count_active(conn, tenant.id), book)
        watermark, full = _read_mode(conn, tenant, shape.full)
        if shape.date_sweep:  # only the accounts whose dates may act now
            today = calendar.today
            invite_until = today + timedelta(days=tenant.invite_days_before_start)
            invites = invite_until if tenant.auth_type == "password" else None
            states = due_states(conn, tenant.id, today, invites)
            book = NameBook(held={}, reserved=set())  # a sweep creates and renames nobody
            return RunState(watermark, full, states, count_active(conn, tenant.id), book)
        states = load_states(conn, tenant.id)
        released = released_names_since(conn, tenant.id, since_released)
    active = sum(1 for state in states.values() if state.active)
    return RunState(watermark, full, states, active, _name_book(states, reserved, released))


def _read_mode(
    conn: Connection, tenant: TenantSettings, asked_full: bool
) -> tuple[str | None, bool]:
    """(the delta watermark, whether this run reads everything)."""
    state = read_state(conn, tenant.id)
    interval = tenant.source.full_sync_interval_hours
    if asked_full or interval is None or state is None:
        return None, True
    if not state.watermark or not state.last_full_at:
        return None, True
    due = as_utc(state.last_full_at) + timedelta(hours=interval) <= utc_now()
    return (None if due else state.watermark), due


def _name_book(
    states: dict[str, AccountState], reserved: set[str], released: dict[str, int]
) -> NameBook:
    """Names taken: held by accounts, reserved by the tenant, or released within the quarantine."""
    by_id = {state.id: source_id for source_id, state in states.items()}
    return NameBook(
        held={name_key(s.name): (source_id, s.name) for source_id, s in states.items()},
        reserved=reserved,
        quarantined={key: by_id.get(account, f"#{account}") for key, account in released.items()},
    )
