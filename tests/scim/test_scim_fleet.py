"""With the fleet (PostgreSQL and a live `clomo-sync worker`), settled pushes become a queued
`sync_tenant` job that a worker runs, not a run inside `web` (SPEC §17, §11)."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from starlette.testclient import TestClient

from sync.config.settings import load_settings
from sync.entry.web.app import create_app
from sync.services.tenants import with_store_tenants
from sync.store.queue_stats import queue_stats
from sync.store.schema import accounts
from tests.fleet.test_fleet_workers import FAST
from tests.ops.conftest import Watched, pg_store, run, upgraded, wait_for
from tests.scim.conftest import SECRET, scim_tenant, user_body
from tests.support.configs import table, write_config

__all__ = ["pg_store"]  # the fixture: a temporary PostgreSQL database


def test_settled_pushes_are_a_job_the_fleet_runs(tmp_path: Path, pg_store: str) -> None:
    tenant = scim_tenant("acme", schedule="0 0 1 1 *")  # no scheduled tick during the test
    config = write_config(tmp_path / "clomo-sync.toml", pg_store, tmp_path / "outbox", [tenant])
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + table("[fleet]", FAST))
    engine = upgraded(pg_store)
    token = run(config, "tenants", "scim-token", "acme").out.strip()
    worker = Watched(config, "worker", "--concurrency", "1")
    try:
        stalled = timedelta(seconds=FAST["stalled_after_seconds"])  # type: ignore[arg-type]

        def live_worker() -> bool:
            with engine.connect() as conn:
                return queue_stats(conn, stalled).workers > 0

        wait_for(live_worker, 60, "a live worker")
        settings = with_store_tenants(load_settings(config), engine)
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings, engine, secret=SECRET)) as client:
            for n in range(3):
                body = user_body(f"f{n}@example.com")
                assert client.post("/scim/v2/acme/Users", json=body, headers=headers).is_success

            def created() -> int:
                with engine.connect() as conn:
                    return int(
                        conn.execute(select(func.count()).select_from(accounts)).scalar_one()
                    )

            wait_for(lambda: created() == 3, 60, "the fleet's run")

        # the run was the worker's job (web ran nothing itself)
        line = worker.wait_for("run succeeded", 60)
        assert "sync.entry.fleet.tasks" in line and "tenant=acme" in line
    finally:
        worker.process.send_signal(signal.SIGTERM)
        assert worker.finish(60).code == 0
        engine.dispose()
