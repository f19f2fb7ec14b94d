"""One dispatcher pass on PostgreSQL (SPEC §11): it queues the tenants whose tick has come, gives
new tenants their first tick, forgets disabled ones, and reads no other tenant's settings (with
thousands of tenants, a pass every minute must not validate them all)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from sync.config.settings import load_settings
from sync.entry.fleet import tasks
from sync.entry.fleet.app import make_app
from sync.services.tenants import provision_from_file, tenant_settings
from sync.store.schema import tenant_dispatch, tenants
from sync.timeutil import utc_now
from tests.fleet.test_fleet_workers import fleet_config
from tests.ops.conftest import small_directory, tenant, upgraded

HOURLY = "0 * * * *"


def test_a_pass_reads_only_due_and_new_tenants(
    tmp_path: Path, pg_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = small_directory(tmp_path / "u.csv", 2)
    ids = ["due", "later", "gone", "new"]
    config = fleet_config(tmp_path, pg_store, [tenant(i, csv, schedule=HOURLY) for i in ids])
    engine = upgraded(pg_store)
    settings = load_settings(config)
    provision_from_file(engine, settings)
    now = utc_now()
    with engine.begin() as conn:
        for tenant_id, due in [("due", -60), ("later", 600), ("gone", -60)]:
            conn.execute(
                text("INSERT INTO tenant_dispatch (tenant_id, next_due_at, merged_ticks, "
                     "settings_version, schedule) VALUES (:t, :d, 0, 1, :s)"),
                {"t": tenant_id, "d": now + timedelta(seconds=due), "s": f"{HOURLY} UTC"},
            )  # fmt: skip
        conn.execute(update(tenants).where(tenants.c.id == "gone").values(enabled=False))
    validated: list[str] = []

    def counted(stored: Any) -> Any:
        validated.append(stored.id)
        return tenant_settings(stored)

    monkeypatch.setattr("sync.services.dispatch.tenant_settings", counted)
    fleet = make_app(settings, engine)
    with fleet.app.open():
        assert tasks.dispatch(fleet, int(now.timestamp())) == 1
        with engine.connect() as conn:
            queued = conn.execute(
                text("SELECT args->>'tenant_id' FROM procrastinate_jobs "
                     "WHERE task_name = 'sync_tenant'")
            ).scalars().all()  # fmt: skip
            ticks = dict(conn.execute(select(tenant_dispatch.c.tenant_id,
                                             tenant_dispatch.c.next_due_at)).all())  # fmt: skip
        assert queued == ["due"]
        assert sorted(validated) == ["due", "new"]
        assert sorted(ticks) == ["due", "later", "new"]  # the disabled tenant's tick is gone
        assert ticks["due"] > now and ticks["new"] > now

        validated.clear()
        assert tasks.dispatch(fleet, int(now.timestamp())) == 0  # nothing due: nothing read
        assert validated == []
    engine.dispose()


def test_overlapping_passes_give_a_new_tenant_one_first_tick(tmp_path: Path, pg_store: str) -> None:
    """Two workers' passes may overlap (the dispatch job takes no lock, which a pass stuck in
    "doing" after a dropped connection held for ever): the second pass's first tick for the
    same tenant waits for the first's to commit, then leaves it be."""
    import threading

    from sync.store.dispatch import Timing, schedule_first

    csv = small_directory(tmp_path / "u.csv", 2)
    config = fleet_config(tmp_path, pg_store, [tenant("new", csv, schedule=HOURLY)])
    engine = upgraded(pg_store)
    provision_from_file(engine, load_settings(config))
    first, second = utc_now(), utc_now() + timedelta(hours=1)
    errors: list[BaseException] = []

    def other_pass() -> None:
        try:
            with engine.begin() as conn:
                schedule_first(conn, "new", second, Timing(1, HOURLY))
        except BaseException as error:
            errors.append(error)

    with engine.begin() as conn:
        schedule_first(conn, "new", first, Timing(1, HOURLY))
        overlapping = threading.Thread(target=other_pass)
        overlapping.start()
        overlapping.join(1)
        assert overlapping.is_alive()  # it waits for this pass's insert to commit
    overlapping.join(10)
    assert errors == []
    with engine.connect() as conn:
        ticks = conn.execute(select(tenant_dispatch.c.next_due_at)).scalars().all()
    assert [tick.timestamp() for tick in ticks] == [first.timestamp()]
    engine.dispose()


def test_a_changed_schedule_re_times_the_next_tick_at_the_next_pass(
    tmp_path: Path, pg_store: str
) -> None:
    """SPEC §14: a tenant moved from a daily tick to every minute runs within a minute, not
    after the old daily tick (the dispatcher used to recompute a tick only when one fired)."""
    csv = small_directory(tmp_path / "u.csv", 2)
    now = utc_now()
    daily_at = f"0 {(now.hour + 12) % 24} * * *"  # half a day away whenever the test runs
    config = fleet_config(tmp_path, pg_store, [tenant("moved", csv, schedule=daily_at)])
    engine = upgraded(pg_store)
    settings = load_settings(config)
    provision_from_file(engine, settings)
    fleet = make_app(settings, engine)

    def tick() -> Any:
        with engine.connect() as conn:
            return conn.execute(select(tenant_dispatch.c.next_due_at)).scalar_one()

    with fleet.app.open():
        assert tasks.dispatch(fleet, int(now.timestamp())) == 0
        daily = tick()
        assert daily > now + timedelta(hours=11)
        fleet_config(tmp_path, pg_store, [tenant("moved", csv, schedule="* * * * *")])
        provision_from_file(engine, load_settings(config))  # as a restarted worker does
        assert tasks.dispatch(fleet, int(now.timestamp())) == 0
        every_minute = tick()
        assert now < every_minute <= now + timedelta(minutes=1)
        later = every_minute + timedelta(seconds=1)
        assert tasks.dispatch(fleet, int(later.timestamp())) == 1  # it runs at that minute
        assert tasks.dispatch(fleet, int(later.timestamp())) == 0  # and the tick is not re-timed
    engine.dispose()


def test_a_pass_does_not_wait_for_a_pass_that_froze_holding_ticks(
    tmp_path: Path, pg_store: str
) -> None:
    """A worker frozen in the middle of a dispatcher pass keeps its transaction, and the due
    ticks it took FOR UPDATE, until it is fenced; another worker's pass skips those ticks (the
    frozen pass would queue them) and ends, rather than hold the slot that fencing needs."""
    import threading

    from sync.services.dispatch import dispatch_pass

    csv = small_directory(tmp_path / "u.csv", 2)
    config = fleet_config(tmp_path, pg_store, [tenant(i, csv, schedule=HOURLY) for i in "ab"])
    engine = upgraded(pg_store)
    provision_from_file(engine, load_settings(config))
    now = utc_now()
    with engine.begin() as conn:
        for tenant_id in "ab":
            conn.execute(
                text("INSERT INTO tenant_dispatch (tenant_id, next_due_at, merged_ticks, "
                     "settings_version, schedule) VALUES (:t, :d, 0, 1, :s)"),
                {"t": tenant_id, "d": now - timedelta(seconds=60), "s": f"{HOURLY} UTC"},
            )  # fmt: skip
    queued: list[str] = []

    def queue(tenant_id: str, _due: Any) -> bool:
        queued.append(tenant_id)
        return True

    with engine.begin() as frozen:  # the frozen pass: "a" taken, never committed meanwhile
        frozen.execute(text("SELECT 1 FROM tenant_dispatch WHERE tenant_id = 'a' FOR UPDATE"))
        other = threading.Thread(target=lambda: dispatch_pass(engine, now, queue))
        other.start()
        other.join(60)  # it ends by itself (before: it waited for the frozen pass's commit)
        assert not other.is_alive()
        assert queued == ["b"]
        frozen.rollback()  # fenced: its transaction rolls back
    dispatch_pass(engine, now, queue)
    assert queued == ["b", "a"]  # the next pass queues what the frozen one held
    engine.dispose()
