"""What the fleet's jobs do: thin wrappers over the dispatcher, the runner and delivery."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sync.mail.deliver import deliver_due
from sync.ops.logs import log_context
from sync.planning.schedule import schedule_trigger
from sync.services.current import tenant_now
from sync.services.runner import RunOptions, run_tenant
from sync.services.tenants import tenant_settings
from sync.store.dispatch import (
    Timing,
    due_by,
    due_outbox_ids,
    due_tenant_ids,
    forget_dispatch,
    forget_unrun,
    record_dispatch,
    resettled,
    retime,
    schedule_first,
    unscheduled,
)
from sync.store.engine import writing
from sync.store.tenants import stored_tenants
from sync.timeutil import utc_now

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from sync.config import TenantSettings
    from sync.entry.fleet.app import Fleet

log = logging.getLogger(__name__)
TICK = timedelta(microseconds=1)


def dispatch(fleet: Fleet, timestamp: int) -> int:
    """One dispatcher pass: re-times the ticks of tenants whose schedule changed, queues a run
    for every tenant whose tick has come, and gives new tenants their first tick. A tick that
    comes while the tenant's previous run is still queued merges into it (counted). Only due,
    new and re-saved tenants' settings are read and validated."""
    from sync.entry.fleet.app import SCHEDULED, run_job

    now = max(utc_now(), datetime.fromtimestamp(timestamp, UTC))
    queued = 0
    with writing(fleet.engine) as conn:
        forget_unrun(conn)
        _retime(conn, now)
        due = due_by(conn, now)
        new = unscheduled(conn)
        settings = _settings(conn, [*due, *new])
        forget_dispatch(conn, set(due) - set(settings))
        for tenant_id in new:
            if tenant_id in settings:  # its first run is its next tick
                tenant, timing = settings[tenant_id]
                schedule_first(conn, tenant_id, _next_tick(tenant, now), timing)
        for tenant_id, due_at in due.items():
            if tenant_id not in settings:
                continue
            merged = not run_job(fleet, tenant_id, due_at, SCHEDULED)
            following = _next_tick(settings[tenant_id][0], now + TICK)
            record_dispatch(conn, tenant_id, following, due_at, now, merged)
            if merged:
                with log_context(tenant=tenant_id):
                    log.warning("tick %s merged into the run already queued", due_at.isoformat())
            else:
                queued += 1
    return queued


def _retime(conn: Connection, now: datetime) -> None:
    """A tenant whose schedule changed gets its next tick from the new schedule now, not after
    the old tick (SPEC §14). Settings saved without a schedule change only update the version."""
    changed = resettled(conn)
    for tenant_id, (tenant, timing) in _settings(conn, list(changed)).items():
        was = changed[tenant_id]
        if was is None or was == timing.schedule:  # None: a tick from before 0008, kept
            retime(conn, tenant_id, timing, None)
            continue
        following = _next_tick(tenant, now)
        retime(conn, tenant_id, timing, following)
        with log_context(tenant=tenant_id):
            log.info("schedule now %r: next tick %s", timing.schedule, following.isoformat())


def _settings(conn: Connection, tenant_ids: list[str]) -> dict[str, tuple[TenantSettings, Timing]]:
    """The enabled tenants' settings that validate (one that does not is logged, and left out),
    each with what its tick is computed from."""
    found = {}
    for stored in stored_tenants(conn, tenant_ids) if tenant_ids else []:
        tenant = tenant_settings(stored) if stored.enabled else None
        if tenant is not None:
            timing = Timing(stored.version, f"{tenant.schedule} {tenant.timezone}")
            found[tenant.id] = (tenant, timing)
    return found


def _next_tick(tenant: TenantSettings, after: datetime) -> datetime:
    trigger: Any = schedule_trigger(tenant.schedule, tenant.timezone)
    following: datetime = trigger.get_next_fire_time(None, after)
    return following


def sync_tenant(fleet: Fleet, tenant_id: str, due_at: str | None) -> dict[str, Any]:
    """One run with the tenant's settings as they are now (not as they were when queued)."""
    from sync.entry.fleet.app import BUSY_RETRY, SCHEDULED, deliver_soon, lag, run_job

    tenant = tenant_now(fleet.settings, fleet.engine, tenant_id)
    if tenant is None:
        log.warning("tenant %s is not in the store (or disabled): run dropped", tenant_id)
        return {"tenant": tenant_id, "status": "unknown_tenant"}
    from sync.entry.fleet.worker import BUSY

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
        tenants = tuple(tenant for tenant, _ in _settings(conn, senders).values())
    if not senders:
        return {"sent": 0}
    settings = fleet.settings.model_copy(update={"tenants": tenants})
    report = deliver_due(fleet.engine, settings, only=only, wait_seconds=60)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}
