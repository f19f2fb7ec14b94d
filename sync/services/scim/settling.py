"""When a pushed directory has settled (SPEC §17): its tenant's run is due once no push has
come for the source's `scim_settle_seconds`. The marker lives in the store, so a run owed
survives a restart of the process that took the pushes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from sync.config.settings import Settings, TenantSettings
from sync.services.current import tenant_now
from sync.sources.settings import ScimSourceSettings
from sync.store.engine import writing
from sync.store.scim import pending_runs, ran_for
from sync.timeutil import utc_now


@dataclass(frozen=True, slots=True)
class Owed:
    tenant: TenantSettings
    pushed_at: datetime  # the last push the run must read


@dataclass(frozen=True, slots=True)
class Settled:
    due: list[Owed]  # runs to start now
    wait: float | None  # seconds until the next tenant settles; None: nothing else is owed


def settled(settings: Settings, engine: Engine) -> Settled:
    now = utc_now()
    with engine.connect() as conn:
        pending = pending_runs(conn)
    due: list[Owed] = []
    waits: list[float] = []
    for tenant_id, pushed_at in pending.items():
        tenant = tenant_now(settings, engine, tenant_id)
        source = tenant.source if tenant is not None else None
        if tenant is None or not isinstance(source, ScimSourceSettings):  # gone, or not SCIM
            handled(engine, tenant_id, pushed_at)
            continue
        left = (pushed_at + timedelta(seconds=source.scim_settle_seconds) - now).total_seconds()
        if left <= 0:
            due.append(Owed(tenant, pushed_at))
        else:
            waits.append(left)
    return Settled(due, min(waits) if waits else None)


def handled(engine: Engine, tenant_id: str, pushed_at: datetime) -> None:
    """A run reading every push up to `pushed_at` was started or queued."""
    with writing(engine) as conn:
        ran_for(conn, tenant_id, pushed_at)
