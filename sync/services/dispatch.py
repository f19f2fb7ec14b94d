"""The fleet's dispatcher pass and its per-tenant delivery (SPEC §11, §14): which tenants are
due, the ticks re-timed when a schedule changed, and the email of the tenants that have some
due. The fleet's jobs (sync.entry.fleet.tasks) call these; queueing a run is theirs, passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from sync.config.settings import Settings, TenantSettings
from sync.mail.deliver import DeliveryReport, deliver_due
from sync.ops.logs import log_context
from sync.planning.dates import Calendar
from sync.planning.schedule import schedule_trigger
from sync.services.tenants import tenant_settings
from sync.store.dispatch import (
    Timing,
    bound_lock_waits,
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

log = logging.getLogger(__name__)
TICK = timedelta(microseconds=1)
# queues a run of the tenant for its tick; False when one was already queued (the tick merges)
Queue = Callable[[str, datetime], bool]


def dispatch_pass(engine: Engine, now: datetime, queue: Queue) -> int:
    """One dispatcher pass: re-times the ticks of tenants whose schedule changed, queues a run
    for every tenant whose tick has come, and gives new tenants their first tick. A tick that
    comes while the tenant's previous run is still queued merges into it (counted). Only due,
    new and re-saved tenants' settings are read and validated."""
    queued = 0
    with writing(engine) as conn:
        bound_lock_waits(conn)
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
            merged = not queue(tenant_id, due_at)
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


def deliver_tenant(
    settings: Settings, engine: Engine, tenant_id: str | None
) -> DeliveryReport | None:
    """Delivers the tenant's due email (every tenant's when None); None when none was due. Only
    the tenants with email due are read from the store: a periodic pass that finds none reads
    no tenant."""
    only = None
    with engine.connect() as conn:
        if tenant_id is not None:
            only = due_outbox_ids(conn, tenant_id, utc_now())
            senders = [tenant_id] if only else []
        else:
            senders = due_tenant_ids(conn, utc_now())
        tenants = tuple(tenant for tenant, _ in _settings(conn, senders).values())
    if not senders:
        return None
    with_senders = settings.model_copy(update={"tenants": tenants})
    return deliver_due(engine, with_senders, only=only, wait_seconds=60)


def sweeps_due(engine: Engine, moment: datetime, window: timedelta) -> list[str]:
    """The enabled tenants whose own 00:00 or 09:00 fell within the `window` before `moment`
    (SPEC §16's date sweeps; sync.planning.dates.Calendar.sweep_due)."""
    with engine.connect() as conn:
        enabled = [t.id for t in stored_tenants(conn) if t.enabled]
        tenants = _settings(conn, enabled)
    return [
        tenant.id
        for tenant, _ in tenants.values()
        if Calendar.at(moment, tenant.timezone).sweep_due(window)
    ]
