"""A run's time limit (SPEC §15, `[fleet] run_timeout_seconds`): the fleet's workers and the
single-host scheduler run each tenant through `run_limited`.

The run goes on in a thread of its own while this one waits. Past the limit the run is abandoned:
its lock is taken back (sync.store.locks.Lease.revoke: on PostgreSQL the lock's session and the
session writing the run's transaction are ended, so that transaction rolls back and another worker
can take the tenant at once; on SQLite the file lock is let go), a failed run is recorded in its
name, and the caller queues it again. The abandoned thread cannot be stopped from outside (it may
be blocked reading a source); when it wakes it finds its lock gone and commits nothing
(sync.services.commit checks the lock last, inside the transaction).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Engine

from sync.config.settings import Settings, TenantSettings
from sync.errors import LockLost
from sync.model import RunStatus
from sync.model.report import RunReport
from sync.ops.logs import log_context
from sync.services.commit import finish
from sync.services.runner import RunOptions, run_tenant
from sync.store.engine import writing
from sync.store.locks import Lease
from sync.timeutil import utc_now

log = logging.getLogger(__name__)


@dataclass
class Limited:
    """The run's report, and whether it was abandoned at its time limit."""

    report: RunReport
    abandoned: bool = False


@dataclass
class _Run:
    done: threading.Event = field(default_factory=threading.Event)
    leases: list[Lease] = field(default_factory=list)
    report: RunReport | None = None
    error: BaseException | None = None


def run_limited(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    limit_seconds: float,
    options: RunOptions | None = None,
) -> Limited:
    """`run_tenant` within `limit_seconds`; raises what it raises (LockLost included)."""
    options = options or RunOptions()
    options = replace(options, run_id=options.run_id or str(uuid.uuid4()))
    started = utc_now()
    run = _Run()

    def took(lease: Lease) -> None:
        run.leases.append(lease)
        if abandoned.is_set():  # the lock came after the limit: the run goes no further
            lease.revoke(engine)

    def work() -> None:
        try:
            run.report = run_tenant(settings, tenant, engine, options, took)
        except BaseException as error:  # handed to the waiting thread, or logged if abandoned
            run.error = error
        finally:
            run.done.set()
            if run.error is not None and abandoned.is_set():
                log.warning("the abandoned run of %s ended: %s", tenant.id, run.error)

    abandoned = threading.Event()
    context = contextvars.copy_context()  # the log context and the fleet job's session tag
    thread = threading.Thread(target=context.run, args=(work,), name=f"run {tenant.id}")
    thread.daemon = True  # an abandoned run blocked on its source does not keep the process up
    thread.start()
    if run.done.wait(limit_seconds):
        if run.error is not None:
            raise run.error
        assert run.report is not None
        return Limited(run.report)
    abandoned.set()
    if not all([lease.revoke(engine) for lease in run.leases]) and run.done.wait(60):
        # the run let its lock go as its limit passed: it ended (committed or not) on its own
        if run.error is not None:
            raise run.error
        if run.report is not None:
            return Limited(run.report)
    return Limited(_abandon(settings, tenant, engine, run, started, limit_seconds, options), True)


def _abandon(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    run: _Run,
    started: datetime,
    limit_seconds: float,
    options: RunOptions,
) -> RunReport:
    """Records the run (its lock taken back) as failed."""
    assert options.run_id is not None
    report = RunReport(tenant.id, options.run_id, started, tenant.source.kind)
    report.status = RunStatus.FAILED
    report.error = (
        f"the run passed its time limit ({limit_seconds:g}s, fleet.run_timeout_seconds): "
        "abandoned, its transaction rolled back; it runs again"
    )
    with log_context(tenant.id, report.run_id):
        log.error("%s", report.error)
        if run.leases:  # a run that never held the lock wrote nothing to record over
            with writing(engine) as conn:
                finish(conn, settings, tenant, report)
    return report


def run_lost(tenant_id: str, failure: LockLost) -> None:
    """Logs a run that lost its lock (nothing of it was committed)."""
    with log_context(tenant=tenant_id):
        log.warning("run abandoned, nothing committed: %s", failure)
