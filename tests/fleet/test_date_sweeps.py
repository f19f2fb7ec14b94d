"""The fleet's date-sweep pass on PostgreSQL (SPEC §16): every quarter hour it queues the sweep
of each tenant whose own 00:00 or 09:00 fell within it, once per tenant however often asked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from sync.config.settings import load_settings
from sync.entry.fleet import tasks
from sync.entry.fleet.app import SWEEP_WINDOW, make_app
from sync.services.tenants import provision_from_file
from tests.fleet.test_fleet_workers import fleet_config
from tests.ops.conftest import small_directory, tenant, upgraded


def test_a_pass_queues_the_tenants_at_their_own_midnight_once(
    tmp_path: Path, pg_store: str
) -> None:
    csv = small_directory(tmp_path / "u.csv", 2)
    tenants = [tenant("tokyo", csv), tenant("utc", csv), tenant("delhi", csv)]
    tenants[0]["timezone"], tenants[2]["timezone"] = "Asia/Tokyo", "Asia/Kolkata"
    config = fleet_config(tmp_path, pg_store, tenants)
    engine = upgraded(pg_store)
    settings = load_settings(config)
    provision_from_file(engine, settings)
    tokyo_midnight = int(datetime(2026, 3, 31, 15, 5, tzinfo=UTC).timestamp())  # 00:05 JST
    delhi_nine = int(datetime(2026, 4, 1, 3, 30, tzinfo=UTC).timestamp())  # 09:00 IST
    fleet = make_app(settings, engine)
    with fleet.app.open():
        assert tasks.date_sweeps(fleet, tokyo_midnight, SWEEP_WINDOW) == 1
        assert tasks.date_sweeps(fleet, tokyo_midnight, SWEEP_WINDOW) == 0  # one waits already
        assert tasks.date_sweeps(fleet, delhi_nine, SWEEP_WINDOW) == 1
        with engine.connect() as conn:
            queued = conn.execute(
                text("SELECT args->>'tenant_id' FROM procrastinate_jobs "
                     "WHERE task_name = 'date_sweep' ORDER BY id")
            ).scalars().all()  # fmt: skip
        assert queued == ["tokyo", "delhi"]
        assert tasks.date_sweep(fleet, "tokyo")["status"] == "succeeded"  # nothing came due
    engine.dispose()
