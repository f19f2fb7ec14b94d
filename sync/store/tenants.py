"""Tenants as data (SPEC §11): each tenant's current settings and every saved version of them.

Settings are kept as the JSON of the keys an administrator gave (sync.config.settings.TenantSettings
validates them on the way in and again on the way out), so a default that changes with a release
applies to every tenant that did not set it. Secrets are in it only by name (`password_env`,
`password_file`): the store never holds a secret value.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, insert, select, update

from sync.model.tenant import StoredTenant, TenantVersion
from sync.store.schema import tenant_versions, tenants
from sync.timeutil import as_utc

BATCH = 1000  # ids per IN list


def _tenant(row: Any) -> StoredTenant:
    return StoredTenant(
        row.id,
        row.origin,
        row.origin_file,
        bool(row.enabled),
        row.version,
        json.loads(row.settings),
        as_utc(row.created_at),
        as_utc(row.updated_at),
    )


def stored_tenants(conn: Connection, ids: Collection[str] | None = None) -> list[StoredTenant]:
    """Every stored tenant, or those of `ids` (fetched in batches), by id."""
    if ids is None:
        return [_tenant(row) for row in conn.execute(select(tenants).order_by(tenants.c.id))]
    wanted, found = sorted(ids), []
    for start in range(0, len(wanted), BATCH):
        query = select(tenants).where(tenants.c.id.in_(wanted[start : start + BATCH]))
        found += [_tenant(row) for row in conn.execute(query.order_by(tenants.c.id))]
    return found


def stored_tenant(conn: Connection, tenant_id: str) -> StoredTenant | None:
    row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    return None if row is None else _tenant(row)


def save_tenant(
    conn: Connection,
    current: StoredTenant | None,
    new: StoredTenant,
    changed: list[str],
    author: str,
) -> None:
    """Writes `new` (its version one above `current`'s) and keeps it as a version with its
    author. The update is guarded by the version read, so two concurrent saves never both win."""
    values = {
        "origin": new.origin,
        "origin_file": new.origin_file,
        "enabled": new.enabled,
        "version": new.version,
        "settings": _json(new.settings),
        "updated_at": new.updated_at,
    }
    if current is None:
        conn.execute(insert(tenants).values(id=new.id, created_at=new.created_at, **values))
    else:
        result = conn.execute(
            update(tenants)
            .where(tenants.c.id == new.id, tenants.c.version == current.version)
            .values(**values)
        )
        if result.rowcount != 1:
            raise RuntimeError(f"tenant {new.id!r} was changed by someone else meanwhile")
    conn.execute(
        insert(tenant_versions).values(
            tenant_id=new.id,
            version=new.version,
            settings=_json(new.settings),
            changed=json.dumps(changed),
            author=author[:255],
            origin=new.origin,
            saved_at=new.updated_at,
        )
    )


def tenant_history(conn: Connection, tenant_id: str) -> list[TenantVersion]:
    rows = conn.execute(
        select(tenant_versions)
        .where(tenant_versions.c.tenant_id == tenant_id)
        .order_by(tenant_versions.c.version)
    )
    return [
        TenantVersion(
            row.tenant_id,
            row.version,
            json.loads(row.settings),
            json.loads(row.changed),
            row.author,
            row.origin,
            as_utc(row.saved_at),
        )
        for row in rows
    ]


def _json(settings: dict[str, Any]) -> str:
    return json.dumps(settings, ensure_ascii=False, sort_keys=True)
