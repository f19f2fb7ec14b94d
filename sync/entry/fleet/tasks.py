"""What the fleet's jobs do: thin wrappers over the dispatcher, the runner and delivery."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sync.errors import LockLost
from sync.ops.logs import log_context
from sync.services.current import tenant_now
from sync.services.datesweep import sweep_dates
from sync.services.dispatch import deliver_tenant, dispatch_pass, sweeps_due
from sync.services.runlimit import run_limited, run_lost
from sync.services.statistics import keep_statistics_fresh
from sync.services.watch import watch_pass
from sync.timeutil import utc_now

if TYPE_CHECKING:
    from sync.entry.fleet.app import Fleet

log = logging.getLogger(__name__)


def dispatch(fleet: Fleet, timestamp: int) -> int:
    """One dispatcher pass (sync.services.dispatch): each due tenant's run queued as a job."""
    from sync.entry.fleet.app import SCHEDULED, run_job

    now = max(utc_now(), datetime.fromtimestamp(timestamp, UTC))
    queued = dispatch_pass(
        fleet.engine, now, lambda tenant_id, due_at: run_job(fleet, tenant_id, due_at, SCHEDULED)
    )
    for tenant_id in watch_pass(fleet.settings, fleet.engine, now):
        with log_context(tenant=tenant_id):
            log.error("overdue: no run has ended for two ticks and the run time limit")
    # after the pass's deferrals (and the runs since the last pass): the fetch query over
    # thousands of waiting jobs crawled on a table never analyzed (issue 23)
    keep_statistics_fresh(fleet.engine)
    return queued


def sync_tenant(fleet: Fleet, tenant_id: str, due_at: str | None) -> dict[str, Any]:
    """One run with the tenant's settings as they are now (not as they were when queued)."""
    from sync.entry.fleet.app import BUSY_RETRY, SCHEDULED, deliver_soon, lag, run_job

    tenant = tenant_now(fleet.settings, fleet.engine, tenant_id)
    if tenant is None:
        log.warning("tenant %s is not in the store (or disabled): run dropped", tenant_id)
        return {"tenant": tenant_id, "status": "unknown_tenant"}
    from sync.entry.fleet.worker import BUSY

    late = lag(due_at, utc_now())
    limit = fleet.settings.fleet.run_timeout_seconds
    try:
        with BUSY:
            limited = run_limited(fleet.settings, tenant, fleet.engine, limit)
    except LockLost as failure:  # fenced, or its lock's session ended: nothing was committed
        run_lost(tenant_id, failure)  # a fencer retries the job; otherwise the next tick runs it
        return {"tenant": tenant_id, "status": "lock_lost"}
    report = limited.report
    if limited.abandoned:  # past its time limit: queued again, for whichever worker is free
        run_job(fleet, tenant_id, None, SCHEDULED)
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
    """Queues the date sweep of every tenant whose 00:00 or 09:00 fell within the pass's window;
    each sweep takes the tenant's lock as a run does."""
    from sync.entry.fleet.app import sweep_job

    moment = datetime.fromtimestamp(timestamp, UTC)
    return sum(
        sweep_job(fleet, tenant_id) for tenant_id in sweeps_due(fleet.engine, moment, window)
    )


def date_sweep(fleet: Fleet, tenant_id: str) -> dict[str, Any]:
    """One tenant's date sweep with its settings as they are now."""
    from sync.entry.fleet.app import deliver_soon

    tenant = tenant_now(fleet.settings, fleet.engine, tenant_id)
    if tenant is None:
        return {"tenant": tenant_id, "status": "unknown_tenant"}
    report = sweep_dates(fleet.settings, tenant, fleet.engine)
    if report.counts["emails_queued"]:
        deliver_soon(fleet, tenant_id)
    return {"tenant": tenant_id, "run_id": report.run_id, "status": report.status}


def deliver(fleet: Fleet, tenant_id: str | None) -> dict[str, Any]:
    """Delivers the tenant's due email (every tenant's when None)."""
    report = deliver_tenant(fleet.settings, fleet.engine, tenant_id)
    if report is None:
        return {"sent": 0}
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}
