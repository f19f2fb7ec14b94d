"""Applying a plan to the store, inside the caller's transaction (SPEC §5.4)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from sync.model import (
    NO_DATES,
    PROFILE_FIELDS,
    AccountStatus,
    Action,
    Change,
    Dates,
    Plan,
    Profile,
    ProfileValues,
    digest_of,
    sends_invitation,
)
from sync.model.actor import Actor
from sync.model.grants import NO_GRANT, Grant
from sync.model.names import name_key
from sync.store import audit
from sync.store.accounts import inserted_after
from sync.store.audit import Event
from sync.store.bulk import insert_rows, to_json
from sync.store.schema import accounts, released_names
from sync.store.tokens import revoke_tokens

BATCH = 2000


def _emails_json(emails: tuple[str, ...]) -> str:
    return to_json(list(emails)) if emails else "[]"


def profile_columns(values: ProfileValues) -> dict[str, Any]:
    """The account columns a profile fills, by name."""
    columns = values._asdict()
    columns["emails"] = _emails_json(values.emails)
    columns["profile_digest"] = digest_of(values)
    return columns


def create_accounts(
    conn: Connection,
    tenant_id: str,
    auth_type: str,
    changes: list[Change],
    now: datetime,
    actor: Actor,
) -> Iterator[tuple[list[Change], dict[str, int]]]:
    """Inserts the new accounts in batches, yielding each batch with its new ids by source id,
    so the caller can queue their emails before the next batch: memory stays bounded by a
    batch."""
    for start in range(0, len(changes), BATCH):
        batch = changes[start : start + BATCH]
        rows = [_new_row(tenant_id, auth_type, c, now) for c in batch]
        before = conn.execute(select(func.coalesce(func.max(accounts.c.id), 0))).scalar_one()
        insert_rows(conn, accounts, rows)
        ids = _ids_since(conn, tenant_id, before, {c.source_id for c in batch})
        audit.record_created(conn, tenant_id, actor, before, now)
        yield batch, ids


def _ids_since(
    conn: Connection, tenant_id: str, before: int, source_ids: set[str]
) -> dict[str, int]:
    """The new ids of `source_ids`' accounts, inserted just now with ids above `before`. (An
    IN list of the batch's ids instead made PostgreSQL compare every row of the table with
    every id: minutes at 100,000 accounts.) Rows someone else committed meanwhile are left
    out by their source ids."""
    new = inserted_after(before)
    newer = select(new.c.source_id, new.c.id).where(new.c.tenant_id == tenant_id)
    return {sid: account_id for sid, account_id in conn.execute(newer) if sid in source_ids}


def _new_row(tenant_id: str, auth_type: str, change: Change, now: datetime) -> dict[str, Any]:
    profile = (change.profile or EMPTY_PROFILE).values()  # unpacked once per new account
    row = profile_columns(profile)
    row.update(grant_values(change.grant.after if change.grant else NO_GRANT))
    row.update(
        tenant_id=tenant_id,
        name=change.name,
        name_key=name_key(change.name),
        source_id=change.source_id,
        composed_name=change.composed_name,
        status=change.status_change()[1],
        auth_type=auth_type,
        name_locked=False,
        invited=auth_type == "password" and sends_invitation(change, profile),
        created_at=now,
        updated_at=now,
    )
    # every row names the same columns (sync.store.bulk)
    row.update(date_columns(change.dates[1] if change.dates else NO_DATES))
    return row


def date_columns(dates: Dates) -> dict[str, Any]:
    return {"start_date": dates.start, "end_date": dates.end}


EMPTY_PROFILE = Profile()


def grant_values(grant: Grant) -> dict[str, Any]:
    """The account columns of a privilege the group rules give."""
    return {"role": grant.role, "role_scheme": grant.scheme, "role_group": grant.group,
            "role_by_hand": False}  # fmt: skip


def change_events(change: Change, before: ProfileValues | None) -> list[Event]:
    """One event per action of a change to an existing account, each with its fields."""
    assert change.account_id is not None
    account_id, name, events = change.account_id, change.name, []
    if Action.RENAME in change.actions:
        events.append(Event(account_id, name, "renamed", {"name": (change.old_name, name)}))
    if Action.UPDATE in change.actions:
        fields = profile_changes(before, change.profile.values()) if change.profile else {}
        if change.grant is not None:  # the new privilege, and the group rule that gave it
            fields.update(change.grant.fields())
        fields.update(change.date_fields())
        events.append(Event(account_id, name, "updated", fields))
    if Action.DISABLE in change.actions:
        events.append(Event(account_id, name, "disabled", {"status": change.status_change()}))
    if Action.ENABLE in change.actions:
        events.append(Event(account_id, name, "enabled", {"status": change.status_change()}))
    return events


def profile_changes(before: ProfileValues | None, after: ProfileValues) -> dict[str, Any]:
    """{field: (before, after)} for each profile field that differs (emails as lists)."""
    old = before or ProfileValues()
    return {
        field: _plain(getattr(old, field), getattr(after, field))
        for field in PROFILE_FIELDS
        if getattr(old, field) != getattr(after, field)
    }


def _plain(old: Any, new: Any) -> tuple[Any, Any]:
    return (list(old), list(new)) if isinstance(new, tuple) else (old, new)


def change_accounts(
    conn: Connection,
    tenant_id: str,
    changes: Iterable[Change],
    now: datetime,
    actor: Actor,
    before: Mapping[int, ProfileValues],
) -> None:
    """Updates, renames, disables and enables of existing accounts, each with its audit events;
    `before` holds the stored profile of every account the changes update."""
    events: list[Event] = []
    for change in changes:
        assert change.account_id is not None, "a change of an existing account"
        values: dict[str, Any] = {"updated_at": now}
        if Action.UPDATE in change.actions and change.profile is not None:
            values.update(profile_columns(change.profile.values()))
        if Action.RENAME in change.actions:
            values.update(name=change.name, name_key=name_key(change.name))
            _release(conn, tenant_id, change, now)
        if change.composed_name is not None:
            values["composed_name"] = change.composed_name
        if Action.DISABLE in change.actions:
            values["status"] = AccountStatus.DISABLED
            revoke_tokens(conn, [change.account_id], now)
        elif Action.ENABLE in change.actions:
            values["status"] = change.status_change()[1]
        if change.dates is not None:
            values.update(date_columns(change.dates[1]))
        if change.grant is not None:
            values.update(grant_values(change.grant.after))
        if change.invite and sends_invitation(change):
            values.update(invited=True, invite_failed_to=None)
        if not change.actions:
            values.pop("updated_at")  # only the composed name was restated
        conn.execute(update(accounts).where(accounts.c.id == change.account_id).values(**values))
        events += change_events(change, before.get(change.account_id))
        if len(events) >= BATCH:
            audit.record(conn, tenant_id, actor, events, now)
            events = []
    audit.record(conn, tenant_id, actor, events, now)


def _release(conn: Connection, tenant_id: str, change: Change, now: datetime) -> None:
    """The old name goes into quarantine (SPEC §4); a newer release of the same name wins."""
    assert change.old_name is not None and change.account_id is not None
    key = name_key(change.old_name)
    conn.execute(
        delete(released_names).where(
            released_names.c.tenant_id == tenant_id, released_names.c.name_key == key
        )
    )
    conn.execute(
        insert(released_names).values(
            tenant_id=tenant_id,
            name_key=key,
            name=change.old_name,
            account_id=change.account_id,
            released_at=now,
        )
    )


def split_plan(plan: Plan) -> tuple[list[Change], list[Change]]:
    """(creates, changes of existing accounts)."""
    creates = [c for c in plan.changes if c.account_id is None]
    return creates, [c for c in plan.changes if c.account_id is not None]
