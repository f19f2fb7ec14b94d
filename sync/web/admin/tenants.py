"""Where a tenant's settings are saved from the console: the one place that does it.

SPEC §11: a tenant provisioned from the configuration file is changed only through that file,
and the console shows its settings read-only and says so. Every tenant of this build comes from
the file, so `save_settings` refuses, honestly, and changes nothing; tenants stored as data
(`tenants apply`) are saved here as a new version with its author when that store exists.
"""

from __future__ import annotations

from typing import Any

from sync.errors import UsageError
from sync.store.audit import Actor
from sync.web.site import Site


class SettingsReadOnly(UsageError):
    """The tenant's settings cannot be changed from the console; the message says where."""


def read_only_reason(site: Site, tenant_id: str) -> str | None:
    """Why the console may not change this tenant's settings, or None when it may."""
    if any(t.id == tenant_id for t in site.settings.tenants):
        return (
            f"tenant {tenant_id} is provisioned from the configuration file "
            f"{site.settings.path}: its settings are changed only in that file"
        )
    return None


def save_settings(site: Site, tenant_id: str, changes: dict[str, Any], actor: Actor) -> None:
    """Saves the changed keys of the tenant's settings as `actor`; SettingsReadOnly when the
    tenant's settings are not the console's to change."""
    reason = read_only_reason(site, tenant_id)
    if reason is not None:
        raise SettingsReadOnly(reason)
    raise SettingsReadOnly(f"tenant {tenant_id} is not known to this console")
