"""Applying a plan to the store, inside the caller's transaction (SPEC §5.4)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, update

from sync.compose.normalize import name_key
from sync.ops import progress
from sync.plan import Change, Plan, Profile
from sync.store.schema import accounts, released_names, reset_tokens

BATCH = 2000


def profile_values(profile: Profile) -> dict[str, Any]:
    return {
        "primary_email": profile.primary_email,
        "emails": json.dumps(list(profile.emails), ensure_ascii=False),
        "employee_code": profile.employee_code,
        "given_name": profile.given_name,
        "family_name": profile.family_name,
        "display_name": profile.display_name,
        "profile_digest": profile.digest(),
    }


def create_accounts(
    conn: Connection, tenant_id: str, auth_type: str, changes: list[Change], now: datetime
) -> dict[str, int]:
    """Inserts the new accounts in batches (bounded memory); returns their ids by source id.

    RETURNING gives back the source id with each new id, so the rows' order does not matter:
    asking SQLAlchemy to keep the parameters' order makes SQLite insert row by row, ten times
    slower at 100,000 accounts."""
    ids: dict[str, int] = {}
    statement = insert(accounts).returning(accounts.c.source_id, accounts.c.id)
    with progress.bar("writing accounts", total=len(changes), unit="accounts") as advance:
        for start in range(0, len(changes), BATCH):
            batch = changes[start : start + BATCH]
            rows = [_new_row(tenant_id, auth_type, c, now) for c in batch]
            ids.update(
                (source_id, account_id) for source_id, account_id in conn.execute(statement, rows)
            )
            advance(len(batch))
    return ids


def _new_row(tenant_id: str, auth_type: str, change: Change, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "name": change.name,
        "name_key": name_key(change.name),
        "source_id": change.source_id,
        "composed_name": change.composed_name,
        "status": "active",
        "auth_type": auth_type,
        "role": "none",
        "name_locked": False,
        "created_at": now,
        "updated_at": now,
        **profile_values(change.profile or Profile()),
    }


def change_accounts(
    conn: Connection, tenant_id: str, changes: Iterable[Change], now: datetime
) -> None:
    """Updates, renames, disables and enables of existing accounts, one statement per kind."""
    for change in changes:
        values: dict[str, Any] = {"updated_at": now}
        if "update" in change.actions and change.profile is not None:
            values.update(profile_values(change.profile))
        if "rename" in change.actions:
            values.update(name=change.name, name_key=name_key(change.name))
            _release(conn, tenant_id, change, now)
        if change.composed_name is not None:
            values["composed_name"] = change.composed_name
        if "disable" in change.actions:
            values["status"] = "disabled"
            _revoke_tokens(conn, change, now)
        elif "enable" in change.actions:
            values["status"] = "active"
        if not change.actions:
            values.pop("updated_at")  # only the composed name was restated
        conn.execute(update(accounts).where(accounts.c.id == change.account_id).values(**values))


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


def _revoke_tokens(conn: Connection, change: Change, now: datetime) -> None:
    """A disabled account's tokens stop working (SPEC §6)."""
    conn.execute(
        update(reset_tokens)
        .where(
            reset_tokens.c.account_id == change.account_id,
            reset_tokens.c.used_at.is_(None),
            reset_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def split_plan(plan: Plan) -> tuple[list[Change], list[Change]]:
    """(creates, changes of existing accounts)."""
    creates = [c for c in plan.changes if c.account_id is None]
    return creates, [c for c in plan.changes if c.account_id is not None]
