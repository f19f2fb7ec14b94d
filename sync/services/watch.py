"""A tenant never goes quiet unseen (SPEC §15): each tenant's watch says when it becomes overdue
(no run of it ended for two of its ticks plus `fleet.run_timeout_seconds`); a watch pass, made
by every long-running process each minute (the fleet's dispatcher, the scheduler), marks the
tenants that just became overdue and tells the tenant's `alert_emails` and the fleet's
`operator_emails` once; the run that ends the silence tells them once more. The alerts go
through the outbox in the same transaction as the mark, so each is sent exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from sync.config.settings import Settings, TenantSettings
from sync.mail.queue import Notice, message_domain, queue_notices
from sync.planning.overdue import overdue_at
from sync.services.tenants import tenant_settings
from sync.store import watch
from sync.store.engine import writing
from sync.store.tenants import stored_tenants
from sync.timeutil import utc_now

KIND = "overdue_alert"


def overdue_after(settings: Settings, tenant: TenantSettings, since: datetime) -> datetime:
    timeout = timedelta(seconds=settings.fleet.run_timeout_seconds)
    return overdue_at(tenant.schedule, tenant.timezone, since, timeout)


def run_ended(
    conn: Connection, settings: Settings, tenant: TenantSettings, ended_at: datetime
) -> None:
    """In the run's transaction: the tenant's watch starts again from this run's end; a tenant
    that was overdue is told it recovered."""
    if watch.run_ended(conn, tenant.id, ended_at, overdue_after(settings, tenant, ended_at)):
        _tell(conn, settings, tenant, "recovered", ended_at)


def watch_pass(settings: Settings, engine: Engine, now: datetime | None = None) -> list[str]:
    """Gives new tenants their watch, marks those that just became overdue and tells about
    them; the ids of those. Only new and newly overdue tenants' settings are read."""
    now = now or utc_now()
    with writing(engine) as conn:
        for tenant in _current(conn, watch.unwatched(conn)):
            watch.watch_new(conn, tenant.id, overdue_after(settings, tenant, now))
        overdue = watch.becoming_overdue(conn, now)
        for tenant in _current(conn, overdue):
            _tell(conn, settings, tenant, "overdue", now)
    return overdue


def _current(conn: Connection, tenant_ids: list[str]) -> Iterator[TenantSettings]:
    for stored in stored_tenants(conn, tenant_ids) if tenant_ids else []:
        tenant = tenant_settings(stored) if stored.enabled else None
        if tenant is not None:
            yield tenant


def _tell(
    conn: Connection, settings: Settings, tenant: TenantSettings, state: str, at: datetime
) -> None:
    addresses = dict.fromkeys((*tenant.alert_emails, *settings.fleet.operator_emails))
    params = {"tenant": tenant.id, "state": state, "at": at.isoformat(timespec="seconds"),
              "schedule": tenant.schedule, "timezone": tenant.timezone}  # fmt: skip
    notices = [Notice(None, KIND, address, params, with_token=False) for address in addresses]
    if notices:
        queue_notices(conn, tenant.id, notices, now=at, token_ttl=timedelta(0),
                      domain=message_domain(settings, tenant))  # fmt: skip
