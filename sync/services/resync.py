"""A run of a tenant asked for now (SPEC §11, §14): the console's "resync now", and any entry
point that wants the tenant run soon (a webhook, a push). One path for all of them: where a
fleet serves the store, the run is queued ahead of the scheduled ones (the caller passes the
fleet's way of asking); otherwise this process runs it in the background, with the tenant's
settings as they are when it starts, then delivers its email, as `clomo-sync sync` does. A
tenant already being run here is not started twice: the asks coalesce.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import Engine

from sync.config.settings import Settings
from sync.mail.deliver import deliver_due
from sync.services.current import tenant_now
from sync.services.runner import RunOptions, run_tenant

log = logging.getLogger(__name__)
# asks the fleet for a run of the tenant: None when no fleet serves this store
AskFleet = Callable[[Settings, Engine, str], bool | None]


class Resync(StrEnum):
    QUEUED = "queued"  # the fleet will run it, ahead of the scheduled runs
    STARTED = "started"  # this process runs it now
    RUNNING = "running"  # this process was already running it: the ask joins that run


class Resyncs:
    """The runs this process makes for asks, one at a time per tenant."""

    def __init__(self, ask_fleet: AskFleet) -> None:
        self._ask_fleet = ask_fleet
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def ask(self, settings: Settings, engine: Engine, tenant_id: str) -> Resync:
        if self._ask_fleet(settings, engine, tenant_id) is not None:
            return Resync.QUEUED
        with self._lock:
            if tenant_id in self._running:
                return Resync.RUNNING
            self._running.add(tenant_id)
        thread = threading.Thread(
            target=self._run, args=(settings, engine, tenant_id), name=f"resync-{tenant_id}"
        )
        thread.daemon = True
        thread.start()
        return Resync.STARTED

    def running(self, tenant_id: str) -> bool:
        with self._lock:
            return tenant_id in self._running

    def _run(self, settings: Settings, engine: Engine, tenant_id: str) -> None:
        try:
            tenant = tenant_now(settings, engine, tenant_id)
            if tenant is None:
                log.warning("resync of %s asked for, but the tenant is gone or disabled", tenant_id)
                return
            report = run_tenant(settings, tenant, engine, RunOptions())
            log.info("resync of %s: %s", tenant_id, report.status)
            deliver_due(engine, settings)
        except Exception:  # a background thread has nobody else to tell
            log.exception("resync of %s failed", tenant_id)
        finally:
            with self._lock:
                self._running.discard(tenant_id)
