"""The tenant as it is now (SPEC §14): every action of a long-running process (the console, the
fleet's jobs, the scheduler) reads the tenant's settings when it uses them, never a copy taken
at start-up.

The store holds every tenant; the configuration file's own tenants are copied into it when a
command starts. A process that keeps running sees an edited file too: before reading a tenant,
it looks at the file's modification stamp and, when the file changed since it last provisioned
from it, reads the file again and provisions its tenants (a file that no longer validates is
logged and left unapplied; the store keeps the last good settings).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine

from sync.config.settings import Settings, TenantSettings, load_settings
from sync.errors import ConfigError
from sync.services.tenants import current_tenant, provision_from_file

log = logging.getLogger(__name__)
_seen: dict[Path, tuple[int, int]] = {}  # file -> (mtime_ns, size) when last provisioned
_lock = threading.Lock()


def tenant_now(settings: Settings, engine: Engine, tenant_id: str) -> TenantSettings | None:
    """The enabled tenant's settings as stored now, after any edit of the configuration file
    has been provisioned; None when the tenant is gone or disabled."""
    refresh_from_file(settings, engine)
    found = current_tenant(engine, tenant_id)
    return None if found is None else found[0]


def refresh_from_file(settings: Settings, engine: Engine) -> Settings:
    """The configuration file as it is now, its tenants provisioned into the store if the file
    changed since this process last did so. Returns `settings` when nothing changed or the
    file no longer loads."""
    path = settings.path.resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        log.warning("configuration file %s cannot be read now (%s): tenants as stored", path, exc)
        return settings
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _lock:  # one provisioning at a time per process; the stamp is taken before the read
        if _seen.get(path) == stamp:
            return settings
        try:
            fresh = load_settings(path)
        except ConfigError as exc:
            log.error("configuration file %s changed but is not valid; not applied: %s",
                      path, "; ".join(exc.problems))  # fmt: skip
            _seen[path] = stamp
            return settings
        provision_from_file(engine, fresh)
        _seen[path] = stamp
        return fresh
