"""A run of a tenant asked for now (SPEC §11, §14): the console's "resync now", and any entry
point that wants the tenant run soon (a webhook, a push). One path for all of them: where a
fleet serves the store, the run is queued ahead of the scheduled ones (the caller passes the
fleet's way of asking); otherwise this process runs it in the background, with the tenant's
settings as they are when it starts, then delivers its email, as `clomo-sync sync` does. A
tenant already being run here is not started twice: the asks coalesce.

An ask that follows a change (a webhook) settles here first, on the fleet too: the fleet's
queueing lock keeps one run waiting, but a run taken by a worker no longer holds it, so a flood
lasting longer than a run would queue run after run. Settled in this process, a flood of any
length asks the fleet once (and once more for asks that come while that one is being made).
"""

from __future__ import annotations

import logging
import threading
import time
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
    """The runs this process makes for asks, one at a time per tenant. An ask that follows a
    change (a webhook, a push) waits until no other such ask came for `settle_seconds`, so a
    burst makes one run; one that comes while the run is under way (it may have read before the
    change) makes one more run after it."""

    def __init__(self, ask_fleet: AskFleet) -> None:
        self._ask_fleet = ask_fleet
        self._running: set[str] = set()
        self._again: set[str] = set()  # tenants owed one more run when the current one ends
        self._last_call: dict[str, float] = {}  # the last follow-up ask per tenant (monotonic)
        self._lock = threading.Lock()

    def ask(
        self,
        settings: Settings,
        engine: Engine,
        tenant_id: str,
        *,
        follow_up: bool = False,
        settle_seconds: float = 0,
    ) -> Resync:
        # a follow-up asks the fleet once settled (in _run); another ask asks it at once
        if not follow_up and self._ask_fleet(settings, engine, tenant_id) is not None:
            return Resync.QUEUED
        with self._lock:
            if follow_up:
                self._last_call[tenant_id] = time.monotonic()
            if tenant_id in self._running:
                if follow_up:
                    self._again.add(tenant_id)
                    return Resync.QUEUED
                return Resync.RUNNING
            self._running.add(tenant_id)
        thread = threading.Thread(
            target=self._run,
            args=(settings, engine, tenant_id, settle_seconds),
            name=f"resync-{tenant_id}",
        )
        thread.daemon = True
        thread.start()
        return Resync.STARTED

    def running(self, tenant_id: str) -> bool:
        with self._lock:
            return tenant_id in self._running

    def _settle(self, tenant_id: str, seconds: float) -> None:
        """Waits until no follow-up ask for the tenant came for `seconds`; the asks until then
        are served by the run that follows."""
        while True:
            with self._lock:
                last = self._last_call.get(tenant_id)
                wait = 0.0 if last is None else last + seconds - time.monotonic()
                if wait <= 0:
                    self._again.discard(tenant_id)
                    self._last_call.pop(tenant_id, None)
                    return
            time.sleep(wait)

    def _run(self, settings: Settings, engine: Engine, tenant_id: str, settle: float) -> None:
        again = True
        while again:
            self._settle(tenant_id, settle)
            if not self._queued(settings, engine, tenant_id):
                self._run_once(settings, engine, tenant_id)
            with self._lock:
                again = tenant_id in self._again
                self._again.discard(tenant_id)
                if not again:
                    self._running.discard(tenant_id)

    def _queued(self, settings: Settings, engine: Engine, tenant_id: str) -> bool:
        """Asks the fleet for the run (a waiting one absorbs it); False when no fleet serves the
        store, so this process runs it."""
        try:
            queued = self._ask_fleet(settings, engine, tenant_id) is not None
        except Exception:  # the store is unreachable: the run here says so in its report
            log.exception("asking the fleet for a run of %s failed", tenant_id)
            return False
        if queued:
            log.info("resync of %s queued for the fleet", tenant_id)
        return queued

    def _run_once(self, settings: Settings, engine: Engine, tenant_id: str) -> None:
        try:
            tenant = tenant_now(settings, engine, tenant_id)  # as it is now (SPEC §14)
            if tenant is None:
                log.warning("resync of %s asked for, but the tenant is gone or disabled", tenant_id)
                return
            report = run_tenant(settings, tenant, engine, RunOptions())
            log.info("resync of %s: %s", tenant_id, report.status)
            deliver_due(engine, settings)
        except Exception:  # a background thread has nobody else to tell
            log.exception("resync of %s failed", tenant_id)
