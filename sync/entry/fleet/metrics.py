"""The worker's `/metrics`: computed when scraped, never after each run."""

from __future__ import annotations

from sqlalchemy import Engine

from sync.config.settings import Settings
from sync.ops.metrics import collect, render
from sync.services.tenants import load_tenants


def fleet_metrics(engine: Engine, settings: Settings) -> str:
    with engine.connect() as conn:
        tenants = tuple(load_tenants(conn))
    return render(collect(engine, settings.model_copy(update={"tenants": tenants})))
