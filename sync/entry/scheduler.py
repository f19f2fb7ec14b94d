"""`clomo-sync scheduler`: runs each tenant on its crontab and delivers queued email (SPEC §7).

APScheduler's BackgroundScheduler fires the jobs on worker threads; the main thread only waits for
signals and refreshes the tenants. Each tenant is one job (at most one instance, missed firings
coalesced into one, a random delay after each tick so replicas and tenants do not stampede).

This is the single-host way (SQLite or PostgreSQL, one process); several hosts share the work
with `clomo-sync worker` (sync.entry.fleet). Tenants come from the store and are read again every
minute, so `tenants apply` reaches a running scheduler; each run uses the tenant's settings as
they are when it starts. The tenant's lock (sync.store.locks) keeps a manual `sync` apart.

Signals: SIGTERM and SIGINT stop it (no new run starts; runs in progress get
`stop_timeout_seconds` to finish, then the process exits and their uncommitted transactions are
rolled back by the database); a second signal exits at once. SIGHUP reloads the configuration.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from sync.config.settings import Settings, TenantSettings, load_settings
from sync.errors import ConfigError, LockLost
from sync.model.report import RunReport
from sync.ops.delivery import summary_line, worth_saying
from sync.ops.logs import log_context, redact_settings
from sync.ops.metrics import write_metrics
from sync.planning.dates import SWEEP_SCHEDULE
from sync.planning.schedule import latest_tick, schedule_trigger
from sync.services.current import refresh_from_file, tenant_now
from sync.services.datesweep import sweep_dates
from sync.services.delivery import deliver_now
from sync.services.runlimit import run_limited, run_lost
from sync.services.statistics import keep_statistics_fresh
from sync.services.tenants import load_tenants, with_store_tenants
from sync.services.watch import watch_pass
from sync.timeutil import utc_now

log = logging.getLogger(__name__)
DELIVERY_JOB = "deliver"
REFRESH_EVERY = timedelta(minutes=1)  # the store's tenants read again
EXIT_FORCED = 1
OUTCOME_LEVELS = {"failed": logging.ERROR, "blocked": logging.WARNING}


class Scheduler:
    def __init__(
        self, config: Path, settings: Settings, engine: Engine, metrics_file: Path | None = None
    ) -> None:
        self.config, self.settings, self.engine = config, settings, engine
        self.metrics_file = metrics_file
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = utc_now()
        self._wake = threading.Event()
        self._signals: list[int] = []
        self._busy = 0
        self._stopping = False
        self._idle = threading.Condition()
        self._ticks: dict[str, BaseTrigger] = {}
        self._delivering = False
        self._deliver_again = threading.Event()
        timing = settings.scheduler
        self._aps = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(timing.max_workers)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": int(timing.misfire_grace_seconds),
            },
            timezone=UTC,
        )

    # --- the main thread ---------------------------------------------------------------------

    def serve(self) -> int:
        """Runs until SIGTERM or SIGINT; returns the exit status (or exits at once if forced)."""
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, self._on_signal)
        self._aps.start()
        self._schedule_tenants()
        self._aps.add_job(
            self._delivery_job,
            IntervalTrigger(seconds=self.settings.scheduler.delivery_interval_seconds),
            id=DELIVERY_JOB,
            name="deliver queued email",
            next_run_time=utc_now(),
        )
        log.info(
            "scheduler %s started: %d tenants, config %s",
            self.worker,
            len(self.settings.tenants),
            self.config,
        )
        last_refresh = utc_now()
        while True:
            if utc_now() - last_refresh >= REFRESH_EVERY:
                last_refresh = utc_now()
                self._quietly(self._refresh_tenants)
            self._wake.wait(self.settings.scheduler.heartbeat_seconds)
            self._wake.clear()
            received, self._signals = self._signals, []
            if signal.SIGTERM in received or signal.SIGINT in received:
                return self._stop()
            if signal.SIGHUP in received:
                self.reload()

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        if self._stopping and number != signal.SIGHUP:
            log.error("second %s: exiting now", signal.Signals(number).name)
            _exit_now(EXIT_FORCED)
        self._signals.append(number)
        self._wake.set()

    def _stop(self) -> int:
        timeout = self.settings.scheduler.stop_timeout_seconds
        with self._idle:
            self._stopping = True
            log.info(
                "stopping: no new run starts; %d in progress (waiting up to %gs)",
                self._busy,
                timeout,
            )
        self._aps.shutdown(wait=False)
        with self._idle:
            finished = self._idle.wait_for(lambda: self._busy == 0, timeout)
            busy = self._busy
        if not finished:
            log.error(
                "%d run(s) still in progress after %gs: exiting; the database rolls back "
                "their uncommitted transactions, so the store stays as it was before them",
                busy,
                timeout,
            )
            _exit_now(EXIT_FORCED)
        self._write_metrics()
        log.info("scheduler %s stopped", self.worker)
        return 0

    def reload(self) -> None:
        """SIGHUP: read the configuration again; a broken file keeps the running one."""
        try:
            settings = load_settings(self.config)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload: %s", problem)
            log.error("reload refused: keeping the running configuration")
            return
        if settings.database.url != self.settings.database.url:
            log.warning("reload: database.url changed; restart the scheduler to use the new store")
        if settings.scheduler.max_workers != self.settings.scheduler.max_workers:
            log.warning("reload: scheduler.max_workers changes on restart only")
        settings = with_store_tenants(settings, self.engine)
        redact_settings(settings)
        self.settings = settings
        self._schedule_tenants()
        self._aps.reschedule_job(
            DELIVERY_JOB,
            trigger=IntervalTrigger(seconds=settings.scheduler.delivery_interval_seconds),
        )
        log.info("configuration reloaded: %d tenants", len(settings.tenants))

    def _schedule_tenants(self) -> None:
        wanted = {tenant.id: tenant for tenant in self.settings.tenants}
        for job in self._aps.get_jobs():
            kind, _, tenant_id = job.id.partition(":")
            if kind in ("tenant", "sweep") and tenant_id not in wanted:
                job.remove()
                if kind == "tenant":
                    log.info("tenant %s is no longer in the store: unscheduled", tenant_id)
        for tenant in self.settings.tenants:
            self._schedule(tenant)

    def _schedule(self, tenant: TenantSettings) -> None:
        jitter = self.settings.scheduler.jitter_seconds or None
        self._ticks[tenant.id] = schedule_trigger(tenant.schedule, tenant.timezone)
        job = self._aps.add_job(
            self._tenant_job,
            schedule_trigger(tenant.schedule, tenant.timezone, jitter),
            args=[tenant.id],
            id=f"tenant:{tenant.id}",
            name=f"sync {tenant.id}",
            replace_existing=True,
        )
        # SPEC §16's date sweep at 00:00 and 09:00 of the tenant's own day (sync.services.datesweep)
        self._aps.add_job(
            self._tenant_job,
            schedule_trigger(SWEEP_SCHEDULE, tenant.timezone, jitter),
            args=[tenant.id, True],
            id=f"sweep:{tenant.id}",
            name=f"date sweep {tenant.id}",
            replace_existing=True,
        )
        upcoming = job.next_run_time.astimezone(ZoneInfo(tenant.timezone)).isoformat()
        with log_context(tenant=tenant.id):
            log.info("schedule %r (%s): next run %s", tenant.schedule, tenant.timezone, upcoming)

    def _refresh_tenants(self) -> None:
        """Tenants added, changed or removed in the store (`tenants apply`) are rescheduled."""
        # the file as it is now (provisioned only when it changed), then the store's tenants:
        # provisioning the copy read at start-up would undo a later edit of the file
        settings = refresh_from_file(self.settings, self.engine)
        with self.engine.connect() as conn:
            settings = settings.model_copy(update={"tenants": tuple(load_tenants(conn))})
        timing = {(t.id, t.schedule, t.timezone) for t in settings.tenants}
        changed = timing != {(t.id, t.schedule, t.timezone) for t in self.settings.tenants}
        redact_settings(settings)
        self.settings = settings
        if changed:
            self._schedule_tenants()
        for tenant_id in watch_pass(settings, self.engine):
            with log_context(tenant=tenant_id):
                log.error("overdue: no run has ended for two ticks and the run time limit")
        keep_statistics_fresh(self.engine)  # PostgreSQL: as the fleet's dispatcher does

    def _quietly(self, action: Callable[..., object], *args: object) -> None:
        """Housekeeping must not stop the scheduler: a store outage is logged and retried."""
        try:
            action(*args)
        except Exception as exc:
            log.warning("%s failed: %s: %s", action.__name__, type(exc).__name__, exc)

    # --- worker threads ----------------------------------------------------------------------

    def _enter(self) -> bool:
        with self._idle:
            if self._stopping:
                return False
            self._busy += 1
            return True

    def _leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def _tenant_job(self, tenant_id: str, sweep: bool = False) -> None:
        if not self._enter():
            return
        try:
            with log_context(tenant=tenant_id):
                self._run_tick(tenant_id, sweep)
        except Exception:
            log.exception("tenant %s: the scheduled run failed unexpectedly", tenant_id)
        finally:
            self._leave()

    def _run_tick(self, tenant_id: str, sweep: bool = False) -> None:
        settings = self.settings
        tenant = tenant_now(settings, self.engine, tenant_id)  # as it is now, not as scheduled
        if tenant is None:
            log.warning("tenant %s is no longer in the store: run skipped", tenant_id)
            return
        if sweep:
            report = sweep_dates(settings, tenant, self.engine)
            _log_outcome(report, "date sweep")
            if report.counts["emails_queued"]:
                self._deliver_soon()
            return
        timing = settings.scheduler
        lookback = timedelta(seconds=timing.misfire_grace_seconds + timing.jitter_seconds + 60)
        tick = latest_tick(self._ticks[tenant_id], utc_now(), lookback)
        # the fleet's run time limit holds here too (SPEC §15): an abandoned run is recorded as
        # failed and its tenant's next tick runs it again
        try:
            report = run_limited(
                settings, tenant, self.engine, settings.fleet.run_timeout_seconds
            ).report
        except LockLost as failure:  # its lock's session ended: nothing was committed
            run_lost(tenant_id, failure)
            return
        _log_outcome(report, tick.isoformat())
        if report.counts["emails_queued"]:
            self._deliver_soon()

    def _deliver_soon(self) -> None:
        if self._delivering:  # the running delivery goes round once more instead
            self._deliver_again.set()
            return
        try:
            self._aps.modify_job(DELIVERY_JOB, next_run_time=utc_now())
        except Exception as exc:  # stopping: the next start delivers it
            log.debug("delivery not brought forward: %s", exc)

    def _delivery_job(self) -> None:
        if not self._enter():
            return
        self._delivering = True
        try:
            while True:
                self._deliver_again.clear()
                self._deliver_once()
                if not self._deliver_again.is_set() or self._stopping:
                    break
        except Exception:
            log.exception("email delivery failed unexpectedly")
        finally:
            self._delivering = False
            self._leave()

    def _deliver_once(self) -> None:
        delivery = deliver_now(self.settings, self.engine)
        if delivery.skipped_locked:
            log.debug("another worker is delivering email")
        elif worth_saying(delivery):
            log.log(logging.WARNING if delivery.stopped else logging.INFO, summary_line(delivery))
        self._write_metrics()  # on the delivery timer: never recomputed after every run

    def _write_metrics(self) -> None:
        if self.metrics_file is not None:
            self._quietly(write_metrics, self.metrics_file, self.engine, self.settings)


def _log_outcome(report: RunReport, tick: str) -> None:
    counts = " ".join(f"{k}={v}" for k, v in report.counts.items() if v)
    with log_context(run_id=report.run_id):
        log.log(
            OUTCOME_LEVELS.get(report.status, logging.INFO),
            "tick %s: %s (%d users read) %s%s",
            tick,
            report.status,
            report.users_read,
            counts,
            f": {report.error}" if report.error else "",
        )


def _exit_now(code: int) -> None:
    """Leaves without joining worker threads (a run in progress would hold the exit up)."""
    logging.shutdown()
    os._exit(code)
