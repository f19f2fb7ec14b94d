"""The Procrastinate app and its tasks: dispatch (periodic), sync_tenant, deliver, and the retry
of runs whose worker died. Every task is a thin wrapper over a service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status
from sqlalchemy import Engine, make_url

from sync.config.settings import Settings
from sync.entry.fleet.connector import WatchedConnector
from sync.errors import UsageError
from sync.planning.schedule import periodic_cron
from sync.services.fence import fence_workers
from sync.services.storage import PG_CONNECT_ARGS

log = logging.getLogger(__name__)
RUNS_QUEUE, MAIL_QUEUE = "runs", "mail"
# SPEC §16's date sweeps: a pass every quarter hour queues each tenant whose own 00:00 or
# 09:00 fell within it (a quarter hour: time zones 30 and 45 minutes off the hour included)
SWEEP_CRON = "*/15 * * * *"
SWEEP_WINDOW = timedelta(minutes=15)
SCHEDULED, REQUESTED = 0, 10  # priorities: a run asked for now goes ahead of scheduled ones
BUSY_RETRY = 15  # seconds: a tenant a manual `sync` holds is tried again this much later


@dataclass
class Fleet:
    """What the tasks of one worker process share."""

    settings: Settings
    engine: Engine
    app: procrastinate.App
    connector: WatchedConnector


def conninfo(url: str) -> str:
    """The store's SQLAlchemy URL as a libpq connection string."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise UsageError(
            "the fleet needs PostgreSQL (database.url); on SQLite run `clomo-sync scheduler`"
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(settings: Settings, engine: Engine, session_name: str | None = None) -> Fleet:
    """The app; a worker sets `fleet.connector.on_lost` to hear of its queries' failures, and
    names its sessions (`session_name`, so it can be fenced: sync.services.fence)."""
    named = {"application_name": session_name} if session_name else {}
    connector = WatchedConnector(
        lambda _name: None,
        conninfo=conninfo(settings.database.url),
        kwargs=dict(PG_CONNECT_ARGS) | named,
        min_size=1,
        max_size=4,
    )
    fleet = Fleet(settings, engine, procrastinate.App(connector=connector), connector)
    _register(fleet)
    return fleet


def _register(fleet: Fleet) -> None:
    from sync.entry.fleet import tasks

    app, timing = fleet.app, fleet.settings.fleet
    every_pass = periodic_cron(timing.dispatch_cron)

    @app.periodic(cron=every_pass, periodic_id="dispatch")
    # no job lock: a pass whose connection dropped mid-job stays "doing" while its worker lives
    # on, and its lock then stopped every later pass. Overlapping passes are safe instead: due
    # ticks are taken FOR UPDATE SKIP LOCKED, and a first tick two passes give is inserted once
    @app.task(name="dispatch", queue=RUNS_QUEUE, queueing_lock="dispatch", priority=REQUESTED + 1)
    def dispatch(timestamp: int) -> int:
        return tasks.dispatch(fleet, timestamp)

    @app.periodic(cron=SWEEP_CRON, periodic_id="date_sweeps")
    @app.task(name="date_sweeps", queue=RUNS_QUEUE, queueing_lock="date_sweeps")
    def date_sweeps(timestamp: int) -> int:
        return tasks.date_sweeps(fleet, timestamp, SWEEP_WINDOW)

    @app.task(name="date_sweep", queue=RUNS_QUEUE)
    def date_sweep(tenant_id: str) -> dict[str, Any]:
        return tasks.date_sweep(fleet, tenant_id)

    @app.task(name="sync_tenant", queue=RUNS_QUEUE)
    def sync_tenant(tenant_id: str, due_at: str | None = None) -> dict[str, Any]:
        return tasks.sync_tenant(fleet, tenant_id, due_at)

    @app.task(name="deliver", queue=MAIL_QUEUE)
    def deliver(tenant_id: str | None = None) -> dict[str, Any]:
        return tasks.deliver(fleet, tenant_id)

    @app.periodic(cron=every_pass, periodic_id="deliver_due")
    @app.task(name="deliver_due", queue=MAIL_QUEUE, queueing_lock="deliver_due")
    def deliver_due(timestamp: int) -> dict[str, Any]:
        return tasks.deliver(fleet, None)

    @app.periodic(cron=every_pass, periodic_id="retry_stalled")
    # ahead of every other job: a worker's slots held up by a dead worker's locks free up only
    # once that worker is fenced, and this is what fences it
    @app.task(
        name="retry_stalled",
        queue=RUNS_QUEUE,
        queueing_lock="retry_stalled",
        priority=REQUESTED + 2,
    )
    async def retry_stalled(timestamp: int) -> int:
        stalled = list(
            await app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=timing.stalled_after_seconds
            )
        )
        dead = sorted({job.worker_id for job in stalled if job.worker_id is not None})
        if dead:  # fenced first: its locks go, and a worker that wakes commits nothing
            await asyncio.to_thread(fence_workers, fleet.engine, dead)
        count = 0
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                log.warning(
                    "job %s (%s) stalled: its worker died; retrying", job.id, job.call_string
                )
            except UniqueViolation:
                # a newer run of the tenant already waits (its queueing lock): it does this
                # run's work, so this one is closed rather than left `doing`
                await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
                log.warning("job %s stalled: its worker died; merged into the run waiting", job.id)
            count += 1
        return count


def sweep_job(fleet: Fleet, tenant_id: str) -> bool:
    """Queues the tenant's date sweep; False when one already waits. No Procrastinate lock: a
    lost job's lock would outlive it (docs/operations.md); the sweep takes the tenant's store
    lock as a run does."""
    try:
        fleet.app.configure_task("date_sweep", queueing_lock=f"sweep:{tenant_id}").defer(
            tenant_id=tenant_id
        )
    except AlreadyEnqueued:
        return False
    return True


def run_job(
    fleet: Fleet, tenant_id: str, due_at: datetime | None, priority: int, later: float = 0
) -> bool:
    """Queues a run of the tenant (`later` seconds from now); False when one is already queued
    (then this request merges into it, and a requested run moves the queued one ahead)."""
    when = due_at.isoformat() if due_at else None
    try:
        _defer_run(fleet, tenant_id, when, priority, later)
    except AlreadyEnqueued:
        if priority > SCHEDULED:
            _move_ahead(fleet, tenant_id, priority)
        return False
    return True


def _defer_run(
    fleet: Fleet, tenant_id: str, due_at: str | None, priority: int, later: float = 0
) -> None:
    # no job `lock`: a job whose bookkeeping failed stays `doing` while its worker lives on,
    # and its lock then held every later run of the tenant (issue 23). The run's store lock
    # keeps the tenant single instead: a run that finds it taken is queued again BUSY_RETRY on
    fleet.app.configure_task(
        "sync_tenant",
        queueing_lock=f"tenant:{tenant_id}",
        priority=priority,
        schedule_in={"seconds": later} if later else None,
    ).defer(tenant_id=tenant_id, due_at=due_at)


def _move_ahead(fleet: Fleet, tenant_id: str, priority: int) -> None:
    """The tenant's waiting run goes ahead of the scheduled ones. Procrastinate has no public
    call that changes a waiting job, so the job is cancelled and queued again, its tick kept;
    when it started meanwhile (cancelling fails) there is nothing left to move."""
    manager = fleet.app.job_manager
    for job in manager.list_jobs(queueing_lock=f"tenant:{tenant_id}", status="todo"):
        if job.id is None or job.priority >= priority:
            continue
        if manager.cancel_job_by_id(job.id, delete_job=True):
            # a tick queued between the two calls is the run then: it keeps its own priority
            due_at = job.task_kwargs.get("due_at")
            with contextlib.suppress(AlreadyEnqueued):
                _defer_run(fleet, tenant_id, due_at if isinstance(due_at, str) else None, priority)


def request_run(settings: Settings, engine: Engine, tenant_id: str) -> bool | None:
    """A run of the tenant asked for now (the console's "resync now"): queued ahead of the
    scheduled ones when a fleet serves this store (PostgreSQL with live workers); None when there
    is no fleet to ask, so the caller runs the tenant itself. True when a run was queued, False
    when one already waited (it now goes first)."""
    from datetime import timedelta

    from sync.services.queue import fleet_serves

    if not fleet_serves(engine, timedelta(seconds=settings.fleet.stalled_after_seconds)):
        return None
    fleet = make_app(settings, engine)
    with fleet.app.open():
        return run_job(fleet, tenant_id, None, REQUESTED)


def deliver_soon(fleet: Fleet, tenant_id: str) -> None:
    # an already queued delivery of the tenant sends this run's email too. No job `lock` (it
    # could outlive a lost job, as sync_tenant's did): delivery takes its store lock itself
    with contextlib.suppress(AlreadyEnqueued):
        fleet.app.configure_task("deliver", queueing_lock=f"deliver:{tenant_id}").defer(
            tenant_id=tenant_id
        )


def lag(due_at: str | None, started: datetime) -> timedelta | None:
    return None if due_at is None else started - datetime.fromisoformat(due_at)
