"""Tenants as data (SPEC §11): `tenants apply`, the configuration file's own tenants, and the
tenants every command reads.

One source of truth at any moment: the store. A tenant of the configuration file is copied into
the store when a command starts and marked as the file's (`origin = file`): only the file changes
it. A tenant created by `tenants apply` is the store's own (`origin = store`). A file tenant that
disappears from its file is disabled (kept, with its accounts, not scheduled); putting it back in
the file, or adopting it with `tenants apply`, enables it again.
"""

from __future__ import annotations

import getpass
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from sync.config.settings import Settings, TenantSettings
from sync.errors import ConfigError, UsageError
from sync.model.tenant import FILE, STORE, StoredTenant
from sync.store.engine import writing
from sync.store.tenants import (
    save_tenant,
    stored_tenant,
    stored_tenants,
)
from sync.timeutil import utc_now

log = logging.getLogger(__name__)
ENABLED = "enabled"  # the history's name for a tenant being retired or brought back


def operator_name() -> str:
    """Who is making a change: $USER, else the console's login name."""
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class TenantChange:
    tenant_id: str
    action: str  # create | update | unchanged
    changed: list[str] = field(default_factory=list)


# --- reading a tenants file ------------------------------------------------------------------


def read_tenant_file(path: Path) -> list[TenantSettings]:
    """The file's [[tenants]], validated as the configuration's are; ConfigError names the file,
    the tenant and the key of every problem at once."""
    from sync.config.load import tenant_file

    found, problems = tenant_file(path)
    ids = [tenant.id.lower() for tenant in found]
    problems += [
        f"{path}: tenants[{i}]: the id is given more than once"
        for i in sorted(set(ids))
        if ids.count(i) > 1
    ]
    if problems:
        raise ConfigError(problems)
    return found


def settings_data(tenant: TenantSettings) -> dict[str, Any]:
    """The keys as given (defaults left out, so they follow the release), JSON-ready."""
    return tenant.model_dump(mode="json", exclude_unset=True)


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The dotted keys (`source.url`, `lookups[0].match_on`) whose values differ."""
    before, after = _flat(old), _flat(new)
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        flat = {}
        for index, item in enumerate(data):
            flat.update(_flat(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: data}


# --- tenants apply ---------------------------------------------------------------------------


def apply_tenant_file(
    engine: Engine, path: Path, dry_run: bool, author: str | None = None
) -> list[TenantChange]:
    """Creates or updates the file's tenants (all or none); tenants not in it are left alone."""
    wanted = read_tenant_file(path)
    author = author or operator_name()
    with writing(engine) as conn:
        changes = _apply(conn, wanted, author, write=not dry_run)
    return changes


def _apply(
    conn: Connection, wanted: list[TenantSettings], author: str, write: bool
) -> list[TenantChange]:
    refused = []
    planned: list[tuple[StoredTenant | None, StoredTenant, TenantChange]] = []
    now = utc_now()
    for tenant in wanted:
        current = stored_tenant(conn, tenant.id)
        data = settings_data(tenant)
        if current is not None and current.origin == FILE and current.enabled:
            if current.settings != data:
                refused.append(
                    f"tenants[{tenant.id}]: provisioned from the configuration file "
                    f"{current.origin_file}; change it there (tenants apply changes only the "
                    "store's own tenants)"
                )
            planned.append((current, current, TenantChange(tenant.id, "unchanged")))
            continue
        new = _next(current, tenant.id, data, STORE, None, now)
        planned.append((current, new, _change(current, new)))
    if refused:
        raise UsageError("refused, nothing changed:\n  " + "\n  ".join(refused))
    if write:
        for current, new, change in planned:
            if change.action != "unchanged":
                save_tenant(conn, current, new, change.changed, author)
    return [change for _c, _n, change in planned]


def _next(
    current: StoredTenant | None,
    tenant_id: str,
    data: dict[str, Any],
    origin: str,
    origin_file: str | None,
    now: Any,
) -> StoredTenant:
    if current is None:
        return StoredTenant(tenant_id, origin, origin_file, True, 1, data, now, now)
    return replace(
        current,
        origin=origin,
        origin_file=origin_file,
        enabled=True,
        version=current.version + 1,
        settings=data,
        updated_at=now,
    )


def _change(current: StoredTenant | None, new: StoredTenant) -> TenantChange:
    if current is None:
        return TenantChange(new.id, "create", changed_keys({}, new.settings))
    keys = changed_keys(current.settings, new.settings)
    if current.origin != new.origin:
        keys.append("origin")
    if current.enabled != new.enabled:
        keys.append(ENABLED)
    return TenantChange(new.id, "update" if keys else "unchanged", keys)


def update_tenant(
    engine: Engine, tenant_id: str, changes: dict[str, Any], author: str
) -> TenantChange:
    """Saves changed keys of a store-owned tenant as a new version by `author` (the console's
    settings screen). A tenant the configuration file provisions is refused (UsageError, nothing
    changed); settings that do not validate are a ConfigError naming each key."""
    with writing(engine) as conn:
        current = stored_tenant(conn, tenant_id)
        if current is None or not current.enabled:
            raise UsageError(f"unknown tenant {tenant_id!r}")
        if current.origin == FILE:
            raise UsageError(
                f"tenant {tenant_id} is provisioned from the configuration file "
                f"{current.origin_file}: its settings are changed only in that file"
            )
        try:
            tenant = TenantSettings.model_validate({**current.settings, **changes})
        except ValidationError as exc:
            raise ConfigError(
                [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            ) from None
        new = _next(current, tenant_id, settings_data(tenant), STORE, None, utc_now())
        change = _change(current, new)
        if change.action != "unchanged":
            save_tenant(conn, current, new, change.changed, author)
        return change


def current_tenant(engine: Engine, tenant_id: str) -> tuple[TenantSettings, StoredTenant] | None:
    """An enabled tenant's settings as stored now, with its record (origin, version)."""
    with engine.connect() as conn:
        stored = stored_tenant(conn, tenant_id)
    if stored is None or not stored.enabled:
        return None
    tenant = tenant_settings(stored)
    return None if tenant is None else (tenant, stored)


# --- the configuration file's own tenants ----------------------------------------------------


def provision_from_file(engine: Engine, settings: Settings) -> list[TenantChange]:
    """Copies the configuration file's tenants into the store, retiring those it no longer has.
    Writes only when something changed, so a current store is only read."""
    with engine.connect() as conn:
        if not _provision(conn, settings, write=False):
            return []
    for attempt in range(3):  # another worker starting at the same moment may provision too
        try:
            with writing(engine) as conn:
                return _provision(conn, settings, write=True)
        except (IntegrityError, RuntimeError):
            if attempt == 2:
                raise
    return []


def _provision(conn: Connection, settings: Settings, write: bool) -> list[TenantChange]:
    origin_file = str(settings.path.resolve())
    author = f"configuration file {origin_file}"
    now = utc_now()
    stored = {tenant.id: tenant for tenant in stored_tenants(conn)}
    changes = []
    for tenant in settings.tenants:
        current = stored.pop(tenant.id, None)
        new = _next(current, tenant.id, settings_data(tenant), FILE, origin_file, now)
        change = _change(current, new)
        if current is not None and current.origin_file != origin_file and not change.changed:
            change = TenantChange(tenant.id, "update", ["origin_file"])
        if change.action == "unchanged":
            continue
        if current is not None and current.origin == STORE:
            log.warning("tenant %s: the configuration file now provisions it", tenant.id)
        changes.append(change)
        if write:
            save_tenant(conn, current, new, change.changed, author)
    for current in stored.values():
        if current.origin == FILE and current.origin_file == origin_file and current.enabled:
            retired = replace(current, enabled=False, version=current.version + 1, updated_at=now)
            changes.append(TenantChange(current.id, "update", [ENABLED]))
            if write:
                log.warning("tenant %s: no longer in %s: disabled", current.id, origin_file)
                save_tenant(conn, current, retired, [ENABLED], author)
    return changes


# --- reading tenants -------------------------------------------------------------------------


def load_tenants(conn: Connection, include_disabled: bool = False) -> list[TenantSettings]:
    """The store's tenants as settings; one that no longer validates is skipped loudly."""
    found = []
    for stored in stored_tenants(conn):
        if not (stored.enabled or include_disabled):
            continue
        tenant = tenant_settings(stored)
        if tenant is not None:
            found.append(tenant)
    return found


def tenant_settings(stored: StoredTenant) -> TenantSettings | None:
    try:
        return TenantSettings.model_validate(stored.settings)
    except ValidationError as exc:
        log.error(
            "tenant %s: stored settings version %d are not valid: %s",
            stored.id,
            stored.version,
            exc,
        )
        return None


def as_provisioned(settings: Settings, engine: Engine) -> Settings:
    """What `with_store_tenants` would give, without writing anything (a dry run): the store's
    tenants, with this file's own in the version the file holds now."""
    origin_file = str(settings.path.resolve())
    in_file = {tenant.id for tenant in settings.tenants}
    with engine.connect() as conn:
        stored = stored_tenants(conn)
    others = [
        tenant
        for current in stored
        if current.enabled and current.id not in in_file
        and not (current.origin == FILE and current.origin_file == origin_file)
        and (tenant := tenant_settings(current)) is not None
    ]  # fmt: skip
    return settings.model_copy(update={"tenants": (*others, *settings.tenants)})


def with_store_tenants(settings: Settings, engine: Engine) -> Settings:
    """The configuration with its tenants replaced by the store's (after provisioning)."""
    provision_from_file(engine, settings)
    with engine.connect() as conn:
        tenants = tuple(load_tenants(conn))
    return settings.model_copy(update={"tenants": tenants})
