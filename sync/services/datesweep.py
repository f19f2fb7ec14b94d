"""The date sweep (SPEC §16): the tenant's stored accounts acted on by their dates alone, without
reading the source. A leaver is disabled from 00:00 of the day after the end date, a pending
joiner becomes active on the start date and is invited on the invitation day (09:00 tenant time).

It is a run of the tenant without a read: the same lock, plan, guards (disables past
`max_disable` are held in a change set), audit and emails. A sweep that finds nothing due writes
nothing and records no run; one that changes something is recorded with the source kind
`date_sweep`. Every run of the tenant sweeps the accounts its read did not return as well.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from sync.config.settings import Settings, TenantSettings
from sync.model.report import RunReport
from sync.services.runner import RunOptions, run_tenant


def sweep_dates(
    settings: Settings, tenant: TenantSettings, engine: Engine, now: datetime | None = None
) -> RunReport:
    """Sweeps one tenant at `now` (None: the current time); never raises for a failed sweep."""
    return run_tenant(settings, tenant, engine, RunOptions(now=now, date_sweep=True))
