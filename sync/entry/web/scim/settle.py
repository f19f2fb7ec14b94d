"""The run after a burst of pushes (SPEC §17), in the `web` process: a thread that lives
while runs are owed. Once a tenant's directory has settled it queues the run for the fleet
where workers serve this store, or runs it here and delivers its emails, as the console's
"resync now" does. The owed run is marked in the store, so it still happens when `web` is
restarted in between (the thread is started with the app and looks first)."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from sync.config.settings import Settings
from sync.model import RunStatus
from sync.services.delivery import deliver_now
from sync.services.runner import RunOptions, run_tenant
from sync.services.scim.settling import Owed, handled, settled

log = logging.getLogger(__name__)
LOOK_AGAIN = 1.0  # seconds: the longest the thread sleeps while runs are owed
BUSY_RETRY = 5.0  # seconds: a tenant another process is running is tried again this much later


class Settler:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._lock = threading.Lock()
        self._poked = False  # a push came since the thread last looked at the store
        self._alive = False

    def poke(self) -> None:
        """A push came (or the process started). Cheap on purpose, as every push calls it:
        a thread already waiting for a tenant to settle reads the newer push when it wakes."""
        with self._lock:
            self._poked = True
            if not self._alive:
                self._alive = True
                threading.Thread(target=self._loop, name="scim-settle", daemon=True).start()

    def _loop(self) -> None:
        try:
            while True:
                with self._lock:
                    self._poked = False
                wait = self._pass()
                if wait is not None:
                    # at most a second: another tenant's push may be due sooner
                    time.sleep(min(wait, LOOK_AGAIN))
                    continue
                with self._lock:
                    if not self._poked:  # nothing owed, and no push since the look
                        self._alive = False
                        return
        except Exception:  # a background thread has nobody else to tell; the next push retries
            log.exception("SCIM: starting the runs owed failed")
            with self._lock:
                self._alive = False

    def _pass(self) -> float | None:
        found = settled(self.settings, self.engine)
        waits = [] if found.wait is None else [found.wait]
        for owed in found.due:
            if not self._start(owed):
                waits.append(BUSY_RETRY)
        return min(waits) if waits else None

    def _start(self, owed: Owed) -> bool:
        """False when another process holds the tenant: the run is still owed."""
        from sync.entry.fleet.app import request_run

        tenant = owed.tenant
        if request_run(self.settings, self.engine, tenant.id) is not None:
            handled(self.engine, tenant.id, owed.pushed_at)
            log.info("SCIM: pushes to %s settled; run queued for the fleet", tenant.id)
            return True
        report = run_tenant(self.settings, tenant, self.engine, RunOptions())
        if report.status == RunStatus.SKIPPED_LOCKED:
            return False
        handled(self.engine, tenant.id, owed.pushed_at)
        log.info("SCIM: pushes to %s settled; run %s", tenant.id, report.status)
        deliver_now(self.settings, self.engine)
        return True
