"""What the fleet's jobs do: thin wrappers over the dispatcher, the runner and delivery."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sync.dates import Calendar
from sync.datesweep import sweep_dates
from sync.mail.deliver import deliver_due
from sync.ops.logs import log_context
from sync.runner import RunOptions, run_tenant
from sync.schedule import schedule_trigger
from sync.store.dispatch import (
    due_by,
    due_outbox_ids,
    due_tenant_ids,
    forget_dispatch,
    forget_unrun,
    record_dispatch,
    schedule_first,
    unscheduled,
)
from sync.store.engine import writing
from sync.store.tenants import stored_tenant, stored_tenants
from sync.tenants import tenant_settings
from sync.timeutil import utc_now

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from sync.config import TenantSettings
    from sync.fleet.app import Fleet

log = logging.getLogger(__name__)
TICK = timedelta(microseconds=1)


def dispatch(fleet: Fleet, timestamp: int) -> int:
    """One dispatcher pass: queues a run for every tenant whose tick has come, and gives new
    tenants their first tick. A tick that comes while the tenant's previous run is still queued
    merges into it (counted). Only due and new tenants' settings are read and validated."""
    from sync.fleet.app import SCHEDULED, run_job

    now = max(utc_now(), datetime.fromtimestamp(timestamp, UTC))
    queued = 0
    with writing(fleet.engine) as conn:
        forget_unrun(conn)
        due = due_by(conn, now)
        new = unscheduled(conn)
        settings = _settings(conn, [*due, *new])
        forget_dispatch(conn, set(due) - set(settings))
        for tenant_id in new:
            if tenant_id in settings:  # its first run is its next tick
                schedule_first(
                    conn, tenant_id, _trigger(settings[tenant_id]).get_next_fire_time(None, now)
                )
        for tenant_id, due_at in due.items():
            if tenant_id not in settings:
                continue
            merged = not run_job(fleet, tenant_id, due_at, SCHEDULED)
            following = _trigger(settings[tenant_id]).get_next_fire_time(None, now + TICK)
            record_dispatch(conn, tenant_id, following, due_at, now, merged)
            if merged:
                with log_context(tenant=tenant_id):
                    log.warning("tick %s merged into the run already queued", due_at.isoformat())
            else:
                queued += 1
    return queued


def _settings(conn: Connection, tenant_ids: list[str]) -> dict[str, TenantSettings]:
    """The enabled tenants' settings that validate (one that does not is logged, and left out)."""
    found = {}
    for stored in stored_tenants(conn, tenant_ids) if tenant_ids else []:
        tenant = tenant_settings(stored) if stored.enabled else None
        if tenant is not None:
            found[tenant.id] = tenant
    return found


def _trigger(tenant: TenantSettings) -> Any:
    return schedule_trigger(tenant.schedule, tenant.timezone)


def sync_tenant(fleet: Fleet, tenant_id: str, due_at: str | None) -> dict[str, Any]:
    """One run with the tenant's settings as they are now (not as they were when queued)."""
    from sync.fleet.app import BUSY_RETRY, SCHEDULED, deliver_soon, lag, run_job

    with fleet.engine.connect() as conn:
        stored = stored_tenant(conn, tenant_id)
    tenant = tenant_settings(stored) if stored is not None and stored.enabled else None
    if tenant is None:
        log.warning("tenant %s is not in the store (or disabled): run dropped", tenant_id)
        return {"tenant": tenant_id, "status": "unknown_tenant"}
    from sync.fleet.worker import BUSY

    late = lag(due_at, utc_now())
    with BUSY:
        report = run_tenant(fleet.settings, tenant, fleet.engine, RunOptions())
    if report.status == "skipped_locked":  # a manual `sync` has the tenant: run again later
        log.info("tenant %s is being synced elsewhere: run again in %ds", tenant_id, BUSY_RETRY)
        run_job(fleet, tenant_id, None, SCHEDULED, later=BUSY_RETRY)
    if report.counts["emails_queued"]:
        deliver_soon(fleet, tenant_id)
    with log_context(tenant=tenant_id, run_id=report.run_id):
        log.info(
            "run %s%s",
            report.status,
            f" ({late.total_seconds():.1f}s after its tick)" if late else "",
        )
    return {"tenant": tenant_id, "run_id": report.run_id, "status": report.status}


def date_sweeps(fleet: Fleet, timestamp: int, window: timedelta) -> int:
    """Queues the date sweep of every tenant whose 00:00 or 09:00 fell within the pass's window
    (sync.dates.Calendar.sweep_due); each sweep takes the tenant's lock as a run does."""
    from sync.fleet.app import sweep_job

    moment = datetime.fromtimestamp(timestamp, UTC)
    with fleet.engine.connect() as conn:
        tenants = _settings(conn, [t.id for t in stored_tenants(conn) if t.enabled])
    due = [t for t in tenants.values() if Calendar.at(moment, t.timezone).sweep_due(window)]
    return sum(sweep_job(fleet, tenant.id) for tenant in due)


def date_sweep(fleet: Fleet, tenant_id: str) -> dict[str, Any]:
    """One tenant's date sweep with its settings as they are now."""
    from sync.fleet.app import deliver_soon

    with fleet.engine.connect() as conn:
        tenant = _settings(conn, [tenant_id]).get(tenant_id)
    if tenant is None:
        return {"tenant": tenant_id, "status": "unknown_tenant"}
    report = sweep_dates(fleet.settings, tenant, fleet.engine)
    if report.counts["emails_queued"]:
        deliver_soon(fleet, tenant_id)
    return {"tenant": tenant_id, "run_id": report.run_id, "status": report.status}


def deliver(fleet: Fleet, tenant_id: str | None) -> dict[str, Any]:
    """Delivers the tenant's due email (every tenant's when None). Only the tenants with email
    due are read from the store: a periodic pass that finds none reads no tenant."""
    only = None
    with fleet.engine.connect() as conn:
        if tenant_id is not None:
            only = due_outbox_ids(conn, tenant_id, utc_now())
            senders = [tenant_id] if only else []
        else:
            senders = due_tenant_ids(conn, utc_now())
        tenants = tuple(_settings(conn, senders).values())
    if not senders:
        return {"sent": 0}
    settings = fleet.settings.model_copy(update={"tenants": tenants})
    report = deliver_due(fleet.engine, settings, only=only, wait_seconds=60)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}
