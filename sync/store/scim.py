"""The tenants' SCIM directories (SPEC §17): what identity providers pushed, as they pushed it.

Resources are kept as the JSON the SCIM service validated (without `meta`), with the columns a
lookup or a uniqueness check needs beside it. Nothing is ever deleted from `scim_users`: a
DELETE hides the resource from SCIM and leaves it inactive for the `scim` source.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from sync.model.pushed import PushedUser
from sync.store.schema import scim_directories, scim_groups, scim_members, scim_users
from sync.timeutil import as_utc


@dataclass(frozen=True, slots=True)
class ScimRecord:
    """One stored user or group: its JSON, and what `meta` is built from."""

    id: str
    resource: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


# --- tokens and the pending run -------------------------------------------------------------


def save_token(conn: Connection, tenant_id: str, token_hash: str, now: datetime) -> None:
    found = conn.execute(
        update(scim_directories)
        .where(scim_directories.c.tenant_id == tenant_id)
        .values(token_hash=token_hash, token_created_at=now)
    ).rowcount
    if not found:
        conn.execute(
            insert(scim_directories).values(
                tenant_id=tenant_id, token_hash=token_hash, token_created_at=now
            )
        )


def token_hash(conn: Connection, tenant_id: str) -> str | None:
    return conn.execute(
        select(scim_directories.c.token_hash).where(scim_directories.c.tenant_id == tenant_id)
    ).scalar_one_or_none()


def mark_pushed(conn: Connection, tenant_id: str, now: datetime) -> None:
    """Records a push that changed the directory: the tenant's run is due once it settles."""
    conn.execute(
        update(scim_directories)
        .where(scim_directories.c.tenant_id == tenant_id)
        .values(pushed_at=now)
    )


def pending_runs(conn: Connection) -> dict[str, datetime]:
    """Tenants pushed to since their last run was started or queued: tenant -> last push."""
    d = scim_directories.c
    rows = conn.execute(
        select(d.tenant_id, d.pushed_at).where(
            d.pushed_at.is_not(None), or_(d.run_for.is_(None), d.run_for < d.pushed_at)
        )
    )
    return {row.tenant_id: as_utc(row.pushed_at) for row in rows}


def ran_for(conn: Connection, tenant_id: str, pushed_at: datetime) -> None:
    """A run that read the directory after the push at `pushed_at` was started or queued."""
    d = scim_directories.c
    conn.execute(
        update(scim_directories)
        .where(d.tenant_id == tenant_id, or_(d.run_for.is_(None), d.run_for < pushed_at))
        .values(run_for=pushed_at)
    )


# --- users ------------------------------------------------------------------------------------


def _record(row: Any) -> ScimRecord:
    return ScimRecord(
        row.id, json.loads(row.resource), row.version, as_utc(row.created_at),
        as_utc(row.updated_at),
    )  # fmt: skip


def add_user(
    conn: Connection, tenant_id: str, user_id: str, resource: dict[str, Any], now: datetime
) -> ScimRecord:
    conn.execute(
        insert(scim_users).values(
            id=user_id, tenant_id=tenant_id, version=1, created_at=now, updated_at=now,
            deleted_at=None, **_user_columns(resource),
        )
    )  # fmt: skip
    return ScimRecord(user_id, resource, 1, now, now)


def replace_user(
    conn: Connection, tenant_id: str, record: ScimRecord, resource: dict[str, Any], now: datetime
) -> ScimRecord:
    conn.execute(
        update(scim_users)
        .where(scim_users.c.id == record.id, scim_users.c.tenant_id == tenant_id)
        .values(version=record.version + 1, updated_at=now, **_user_columns(resource))
    )
    return ScimRecord(record.id, resource, record.version + 1, record.created_at, now)


def _user_columns(resource: dict[str, Any]) -> dict[str, Any]:
    name = str(resource["userName"])
    return {
        "user_name": name,
        "user_name_key": name.casefold(),
        "external_id": resource.get("externalId"),
        "active": resource.get("active") is not False,
        "resource": json.dumps(resource, ensure_ascii=False, sort_keys=True),
    }


def delete_user(conn: Connection, tenant_id: str, user_id: str, now: datetime) -> bool:
    """Hides the user from SCIM and frees its userName; the row stays (inactive), so the `scim`
    source reports the person as disabled rather than gone. Its memberships end."""
    c = scim_users.c
    done = conn.execute(
        update(scim_users)
        .where(c.id == user_id, c.tenant_id == tenant_id, c.deleted_at.is_(None))
        .values(deleted_at=now, updated_at=now, user_name_key=None, active=False)
    ).rowcount
    conn.execute(delete(scim_members).where(scim_members.c.user_id == user_id))
    return bool(done)


def user_record(conn: Connection, tenant_id: str, user_id: str) -> ScimRecord | None:
    c = scim_users.c
    row = conn.execute(
        select(scim_users).where(c.id == user_id, c.tenant_id == tenant_id, c.deleted_at.is_(None))
    ).first()
    return None if row is None else _record(row)


def name_holder(conn: Connection, kind: str, tenant_id: str, name: str) -> str | None:
    """The id of the live user (kind "User") holding this userName, or of the group ("Group")
    holding this displayName, without regard to case."""
    table, key = (
        (scim_users, "user_name_key") if kind == "User" else (scim_groups, "display_name_key")
    )
    return conn.execute(
        select(table.c.id).where(table.c.tenant_id == tenant_id, table.c[key] == name.casefold())
    ).scalar_one_or_none()


def user_records(
    conn: Connection,
    tenant_id: str,
    *,
    ids: Collection[str] | None = None,
    user_names: Collection[str] | None = None,
    external_ids: Collection[str] | None = None,
) -> list[ScimRecord]:
    """Live users in creation order, narrowed by whichever keys are given (all must hold)."""
    c = scim_users.c
    where = [c.tenant_id == tenant_id, c.deleted_at.is_(None)]
    if ids is not None:
        where.append(c.id.in_(list(ids)))
    if user_names is not None:
        where.append(c.user_name_key.in_([n.casefold() for n in user_names]))
    if external_ids is not None:
        where.append(c.external_id.in_(list(external_ids)))
    rows = conn.execute(select(scim_users).where(and_(*where)).order_by(c.created_at, c.id))
    return [_record(row) for row in rows]


def known_user_ids(conn: Connection, tenant_id: str, ids: Collection[str]) -> set[str]:
    c = scim_users.c
    found = conn.execute(
        select(c.id).where(c.tenant_id == tenant_id, c.deleted_at.is_(None), c.id.in_(list(ids)))
    )
    return set(found.scalars())


def pushed_users(conn: Connection, tenant_id: str) -> Iterator[PushedUser]:
    """Every user ever pushed to the tenant, deleted ones as inactive."""
    c = scim_users.c
    rows = conn.execute(
        select(c.id, c.active, c.deleted_at, c.resource, c.updated_at)
        .where(c.tenant_id == tenant_id)
        .order_by(c.id)
    )
    for row in rows:
        yield PushedUser(
            row.id,
            row.active and row.deleted_at is None,
            json.loads(row.resource),
            as_utc(row.updated_at),
        )


# --- groups -----------------------------------------------------------------------------------


def _group_columns(resource: dict[str, Any]) -> dict[str, Any]:
    name = str(resource["displayName"])
    return {
        "display_name": name,
        "display_name_key": name.casefold(),
        "external_id": resource.get("externalId"),
    }


def _group_record(row: Any) -> ScimRecord:
    resource = {"displayName": row.display_name}
    if row.external_id is not None:
        resource["externalId"] = row.external_id
    return ScimRecord(row.id, resource, row.version, as_utc(row.created_at), as_utc(row.updated_at))


def add_group(
    conn: Connection, tenant_id: str, group_id: str, resource: dict[str, Any], now: datetime
) -> None:
    conn.execute(
        insert(scim_groups).values(
            id=group_id, tenant_id=tenant_id, version=1, created_at=now, updated_at=now,
            **_group_columns(resource),
        )
    )  # fmt: skip


def replace_group(
    conn: Connection, tenant_id: str, record: ScimRecord, resource: dict[str, Any], now: datetime
) -> None:
    conn.execute(
        update(scim_groups)
        .where(scim_groups.c.id == record.id, scim_groups.c.tenant_id == tenant_id)
        .values(version=record.version + 1, updated_at=now, **_group_columns(resource))
    )


def delete_group(conn: Connection, tenant_id: str, group_id: str) -> bool:
    c = scim_groups.c
    conn.execute(delete(scim_members).where(scim_members.c.group_id == group_id))
    found = conn.execute(delete(scim_groups).where(c.id == group_id, c.tenant_id == tenant_id))
    return bool(found.rowcount)


def group_records(
    conn: Connection, tenant_id: str, ids: Collection[str] | None = None
) -> list[ScimRecord]:
    c = scim_groups.c
    where = [c.tenant_id == tenant_id]
    if ids is not None:
        where.append(c.id.in_(list(ids)))
    rows = conn.execute(select(scim_groups).where(*where).order_by(c.created_at, c.id))
    return [_group_record(row) for row in rows]


def members(conn: Connection, group_ids: Collection[str]) -> dict[str, dict[str, str | None]]:
    """group id -> {user id: display as given}, each in userName order."""
    m, u = scim_members.c, scim_users.c
    rows = conn.execute(
        select(m.group_id, m.user_id, m.display)
        .join(scim_users, u.id == m.user_id)
        .where(m.group_id.in_(list(group_ids)))
        .order_by(u.user_name, u.id)
    )
    found: dict[str, dict[str, str | None]] = {gid: {} for gid in group_ids}
    for row in rows:
        found[row.group_id][row.user_id] = row.display
    return found


def set_members(
    conn: Connection, group_id: str, old: dict[str, str | None], new: dict[str, str | None]
) -> None:
    """Brings the group's rows from `old` to `new` (user id -> display)."""
    m = scim_members.c
    gone = [u for u, display in old.items() if u not in new or new[u] != display]
    came = [u for u, display in new.items() if u not in old or old[u] != display]
    if gone:
        conn.execute(delete(scim_members).where(m.group_id == group_id, m.user_id.in_(gone)))
    if came:
        rows = [{"group_id": group_id, "user_id": u, "display": new[u]} for u in came]
        conn.execute(insert(scim_members), rows)


def memberships(conn: Connection, tenant_id: str) -> dict[str, set[str]]:
    """user id -> the displayNames of the groups the user is a member of."""
    m, g = scim_members.c, scim_groups.c
    rows = conn.execute(
        select(m.user_id, g.display_name)
        .join(scim_groups, g.id == m.group_id)
        .where(g.tenant_id == tenant_id)
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row.user_id, set()).add(row.display_name)
    return found


def group_names(conn: Connection, tenant_id: str) -> set[str]:
    c = scim_groups.c
    return set(conn.execute(select(c.display_name).where(c.tenant_id == tenant_id)).scalars())
