"""The `scheduler` command as a real process (the single-host way): every tick, SIGTERM mid-run,
SIGHUP. Several hosts share the work with `clomo-sync worker` (tests/fleet)."""

from __future__ import annotations

import itertools
import json
import math
import signal
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text

from sync.store.schema import accounts, outbox, runs
from sync.timeutil import as_utc, utc_now
from tests.ops.conftest import (
    Watched,
    big_directory,
    configure,
    run,
    small_directory,
    tenant,
    upgraded,
    wait_for,
)

EVERY = 3  # seconds between ticks in the replica test
FAST = {"jitter_seconds": 1, "heartbeat_seconds": 1, "delivery_interval_seconds": 2}


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def test_the_scheduler_runs_every_tenant_on_every_tick_never_twice_at_once(
    tmp_path: Path, pg_store: str
) -> None:
    csv = small_directory(tmp_path / "u.csv", 50)
    tenants = [tenant(f"t{n}", csv, schedule=f"*/{EVERY} * * * * *") for n in range(8)]
    config = configure(tmp_path, pg_store, tenants, {**FAST, "max_workers": 8})
    engine = upgraded(pg_store)
    replicas = [Watched(config, "--log-format", "json", "scheduler")]
    for replica in replicas:
        replica.wait_for('"scheduler ')  # "scheduler host:pid started"
    ready = utc_now()

    def five_ticks_each() -> bool:
        runs_now = _runs(engine)
        return all(
            sum(r["started"] >= ready for r in runs_now.get(t["id"], [])) >= 5 for t in tenants
        )

    wait_for(five_ticks_each, 120, "five ticks of every tenant")
    stopped = utc_now()
    for replica in replicas:
        replica.process.send_signal(signal.SIGTERM)
    results = [replica.finish(60) for replica in replicas]

    assert [r.code for r in results] == [0], [r.err[-3000:] for r in results]
    ticks = _ticks_between(ready, stopped)
    assert len(ticks) >= 4
    by_tenant = _runs(engine)
    assert set(by_tenant) == {t["id"] for t in tenants}
    for tenant_id, rows in by_tenant.items():
        for tick in ticks:
            in_window = [r for r in rows if tick <= r["started"] < tick + timedelta(seconds=EVERY)]
            assert [r["status"] for r in in_window] == ["succeeded"], (tenant_id, tick, rows)
        for earlier, later in itertools.pairwise(rows):
            assert earlier["finished"] <= later["started"], (tenant_id, earlier, later)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accounts)).scalar() == 8 * 50
    for result in results:
        for line in json_lines(result.err.splitlines()):
            if line["logger"] == "sync.services.runner":
                assert line["tenant"] and line["run_id"], line
    engine.dispose()


def _ticks_between(start: datetime, end: datetime) -> list[datetime]:
    first = math.ceil(start.timestamp() / EVERY) * EVERY
    last = math.floor(end.timestamp() / EVERY) * EVERY - EVERY  # its window closed before `end`
    return [datetime.fromtimestamp(t, UTC) for t in range(first, last + 1, EVERY)]


def _runs(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(
            select(runs.c.tenant_id, runs.c.status, runs.c.started_at, runs.c.finished_at).order_by(
                runs.c.started_at
            )
        ).all()
    for row in rows:
        by_tenant[row.tenant_id].append(
            {
                "status": row.status,
                "started": as_utc(row.started_at),
                "finished": as_utc(row.finished_at),
            }
        )
    return by_tenant


USERS, WITH_EMAIL = 20_000, 300


def _store_state(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(accounts)).scalar() or 0,
            conn.execute(select(func.count()).select_from(outbox)).scalar() or 0,
            conn.execute(select(func.count()).select_from(runs)).scalar() or 0,
        )


def _big_scheduler(tmp_path: Path, url: str, stop_timeout: float) -> tuple[Path, Watched]:
    csv = big_directory(tmp_path / "u.csv", USERS, WITH_EMAIL)
    config = configure(
        tmp_path,
        url,
        [tenant("big", csv, schedule="* * * * * *")],
        {**FAST, "jitter_seconds": 0, "stop_timeout_seconds": stop_timeout},
    )
    upgraded(url).dispose()
    return config, Watched(config, "--log-format", "json", "scheduler")


def test_sigterm_lets_the_run_in_progress_finish(tmp_path: Path, any_store: str) -> None:
    _config, scheduler = _big_scheduler(tmp_path, any_store, stop_timeout=120)
    scheduler.wait_for('"run started"')
    scheduler.process.send_signal(signal.SIGTERM)
    result = scheduler.finish(150)

    assert result.code == 0, result.err[-3000:]
    messages = [line["message"] for line in json_lines(result.err.splitlines())]
    assert any("1 in progress" in m for m in messages), messages
    engine = upgraded(any_store)
    assert _store_state(engine) == (USERS, WITH_EMAIL, 1)  # the run finished and was recorded
    engine.dispose()


def test_sigterm_past_the_bound_leaves_the_store_as_before(tmp_path: Path, pg_store: str) -> None:
    """The run is held in the middle of its transaction (this test locks sync_state against
    writes, which the run does after the accounts and emails), so the bound surely passes."""
    engine = upgraded(pg_store)
    holder = engine.connect()
    holder.execute(text("LOCK TABLE sync_state IN EXCLUSIVE MODE"))  # reads still pass
    config, scheduler = _big_scheduler(tmp_path, pg_store, stop_timeout=1)
    scheduler.wait_for('"run started"')
    wait_for(lambda: _writing(engine), 60, "the run's transaction to start writing")
    scheduler.process.send_signal(signal.SIGTERM)
    result = scheduler.finish(30)
    holder.rollback()  # the run's server session now finds its client gone, and rolls back
    holder.close()

    assert result.code == 1, result.err[-3000:]
    assert "still in progress after 1s" in result.err  # it gave up at its bound, not at ours
    wait_for(lambda: not _writing(engine), 30, "the server to roll the transaction back")
    assert _store_state(engine) == (0, 0, 0)
    again = run(config, "sync", "--tenant", "big", "--json", "--wait", "30")
    assert again.code == 0, again.err
    assert again.reports()[0]["counts"]["created"] == USERS
    assert _store_state(engine) == (USERS, WITH_EMAIL, 1)
    engine.dispose()


def _writing(engine: Engine) -> bool:
    """Another session holds a transaction that has written to the account tables."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL "
        "AND (query ILIKE '%accounts%' OR query ILIKE '%outbox%' OR query ILIKE '%reset_tokens%')"
    )
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def test_sighup_reloads_and_a_broken_file_keeps_the_running_configuration(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    csv = small_directory(tmp_path / "u.csv")
    yearly = "0 0 1 1 *"
    config = configure(tmp_path, url, [tenant("first", csv, schedule=yearly)], FAST)
    scheduler = Watched(config, "scheduler")
    scheduler.wait_for("[tenant=first] schedule '0 0 1 1 *' (UTC): next run")

    configure(
        tmp_path,
        url,
        [
            tenant("first", csv, schedule=yearly),
            tenant("second", csv, schedule="30 9 * * 1-5", timezone="Asia/Tokyo"),
        ],
        FAST,
    )
    scheduler.process.send_signal(signal.SIGHUP)
    line = scheduler.wait_for("[tenant=second] schedule")
    next_run = datetime.fromisoformat(line.rsplit("next run ", 1)[1].strip())
    assert (next_run.hour, next_run.minute) == (9, 30)
    assert next_run.utcoffset() == timedelta(hours=9)
    assert next_run.isoweekday() in range(1, 6)  # cron's 1-5 is Monday to Friday
    scheduler.wait_for("configuration reloaded: 2 tenants")

    config.write_text(config.read_text() + "\n[[tenants]]\nid = 'broken'\n", encoding="utf-8")
    scheduler.process.send_signal(signal.SIGHUP)
    scheduler.wait_for("reload refused")
    assert scheduler.process.poll() is None
    scheduler.process.send_signal(signal.SIGINT)
    result = scheduler.finish(30)
    assert result.code == 0, result.err
    assert "stopped" in result.err
