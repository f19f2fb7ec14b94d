"""Where a tenant's settings are saved from the console: the one place that does it.

SPEC §11: a tenant provisioned from the configuration file is changed only through that file,
and the console shows its settings read-only and says so. A tenant stored as data (created by
`tenants apply`) is the store's own: the console saves its changed keys as a new version with
the administrator as author (`tenants history` shows it).
"""

from __future__ import annotations

from typing import Any

from sync.entry.web.site import Site
from sync.errors import ConfigError, UsageError
from sync.model.actor import Actor
from sync.model.tenant import FILE
from sync.services.tenants import current_tenant, update_tenant


class SettingsReadOnly(UsageError):
    """The tenant's settings cannot be changed from the console; the message says where."""


def read_only_reason(site: Site, tenant_id: str) -> str | None:
    """Why the console may not change this tenant's settings, or None when it may."""
    found = current_tenant(site.engine, tenant_id)
    if found is None:
        return f"tenant {tenant_id} is not known to this console"
    _tenant, stored = found
    if stored.origin == FILE:
        return (
            f"tenant {tenant_id} is provisioned from the configuration file "
            f"{stored.origin_file}: its settings are changed only in that file"
        )
    return None


def save_settings(site: Site, tenant_id: str, changes: dict[str, Any], actor: Actor) -> None:
    """Saves the changed keys of the tenant's settings as `actor`, a new version in the
    tenant's history; SettingsReadOnly when the tenant's settings are not the console's to
    change or the changed settings do not hold."""
    reason = read_only_reason(site, tenant_id)
    if reason is not None:
        raise SettingsReadOnly(reason)
    try:
        update_tenant(site.engine, tenant_id, changes, actor.name)
    except ConfigError as exc:
        raise SettingsReadOnly("; ".join(exc.problems)) from None
    except UsageError as exc:
        raise SettingsReadOnly(str(exc)) from None
