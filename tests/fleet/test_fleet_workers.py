"""Real `clomo-sync worker` processes on a temporary PostgreSQL database (SPEC §11).

Tenants are due every five seconds and the dispatcher runs every second (`fleet.dispatch_cron`
with a seconds field, the documented test-speed setting). One tenant's directory is a named pipe:
its run blocks reading it until the test writes, which is how a run is caught in the middle.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text

from sync.store.schema import accounts, outbox, runs
from sync.timeutil import as_utc
from tests.ops.conftest import Watched, configure, run, small_directory, tenant, upgraded, wait_for
from tests.support.configs import person, table, write_users

FAST = {
    "dispatch_cron": "* * * * * *",  # six fields: seconds first, as tenant schedules
    "heartbeat_seconds": 1,
    "stalled_after_seconds": 4,
    "stop_timeout_seconds": 2,
}
EVERY_5S = "*/5 * * * * *"  # a tenant's six-field schedule: seconds first


def fleet_config(
    root: Path, url: str, tenants: list[dict[str, Any]], timing: dict[str, Any] = FAST
) -> Path:
    config = configure(root, url, tenants)
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + table("[fleet]", timing))
    return config


def readers_of(path: Path, pids: list[int]) -> list[int]:
    """The processes among `pids` that hold `path` open (a run blocked reading the pipe)."""
    found = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    found.append(pid)
                    break
            except FileNotFoundError:
                continue
    return found


def run_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(runs).order_by(runs.c.started_at)))


def never_overlapping(rows: list[Any]) -> None:
    by_tenant: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for row in rows:
        by_tenant[row.tenant_id].append((as_utc(row.started_at), as_utc(row.finished_at)))
    for tenant_id, spans in by_tenant.items():
        for (_s1, end), (start, _e2) in itertools.pairwise(spans):
            assert start >= end, f"two runs of {tenant_id} at once: {spans}"


def test_three_workers_share_every_tick_survive_a_kill_and_dropped_connections(
    tmp_path: Path, pg_store: str
) -> None:
    pipe = tmp_path / "slow.csv"
    os.mkfifo(pipe)
    tenants = [
        tenant(f"t{n:02d}", small_directory(tmp_path / f"t{n:02d}.csv", 5), schedule=EVERY_5S)
        for n in range(9)
    ]
    tenants.append(tenant("slow", pipe, schedule=EVERY_5S))
    config = fleet_config(tmp_path, pg_store, tenants)
    engine = upgraded(pg_store)
    workers = [Watched(config, "worker", "--concurrency", "2") for _ in range(3)]
    try:
        pids = [w.process.pid for w in workers]
        # a writer that holds the pipe open, silent: the run that opened it waits reading
        killed = threading.Event()
        holder = threading.Thread(target=_hold, args=(pipe, killed), daemon=True)
        holder.start()
        wait_for(lambda: bool(readers_of(pipe, pids)), 60, "a worker running the slow tenant")
        victim = readers_of(pipe, pids)[0]
        os.kill(victim, signal.SIGKILL)
        workers[pids.index(victim)].process.wait(30)
        killed.set()  # the run that read the pipe is gone: the holder may let go
        # the stalled run is retried by another worker (heartbeat older than 4 s): _feed
        # answers it, then puts a plain file in the pipe's place for the later runs
        feed = threading.Thread(target=_feed, args=(pipe, tmp_path), daemon=True)
        feed.start()
        feed.join(90)
        assert not feed.is_alive(), "the killed run was not retried"
        wait_for(lambda: _accounts(engine, "slow") == 5, 60, "the retried run applied")

        # every backend of the store dropped under running workers: they reconnect and go on
        with engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        dropped = time.time()

        def every_tenant_ran_again() -> bool:
            later = [r for r in run_rows(engine) if as_utc(r.started_at).timestamp() > dropped]
            ran = {r.tenant_id for r in later if r.status == "succeeded"}
            return ran >= {t["id"] for t in tenants}

        wait_for(every_tenant_ran_again, 90, "every tenant ran again after the drop")
    finally:
        stopped = time.time()
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        finished = [w.finish(60) for w in workers]
    rows = run_rows(engine)
    never_overlapping(rows)
    ticks: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        ticks[row.tenant_id].append(row)
    with engine.connect() as conn:
        merged: dict[str, int] = {
            tenant_id: count
            for tenant_id, count in conn.execute(
                text("SELECT tenant_id, merged_ticks FROM tenant_dispatch")
            )
        }
    for item in tenants[:9]:  # due every 5 s for the whole test: every tick run or merged
        mine = ticks[item["id"]]
        span = stopped - as_utc(mine[0].started_at).timestamp()
        expected = int(span // 5)
        assert len(mine) + merged[item["id"]] >= expected, (item["id"], len(mine), span)
    with engine.connect() as conn:
        mails = conn.execute(
            text("SELECT tenant_id, count(*) FROM outbox GROUP BY tenant_id")
        ).all()
        assert all(n == 5 for _t, n in mails) and len(mails) == 10, mails
        assert conn.execute(select(accounts.c.id)).all().__len__() == 50
        assert not conn.execute(select(outbox.c.id).where(outbox.c.status == "failed")).all()
    for outcome in finished:
        if outcome.code != -signal.SIGKILL:
            assert outcome.code == 0, outcome.err[-3000:]


def _hold(pipe: Path, killed: threading.Event) -> None:
    handle = pipe.open("w", encoding="utf-8")  # returns once a run opened the pipe
    killed.wait(120)  # the run's worker is killed meanwhile
    with contextlib.suppress(BrokenPipeError):
        handle.close()


def _feed(pipe: Path, root: Path) -> None:
    """Answers the blocked run, then puts a plain file where the pipe was for later runs."""
    content = root / "slow-content.csv"
    write_users(content, [person(n) for n in range(5)])
    with pipe.open("w", encoding="utf-8") as handle:
        handle.write(content.read_text(encoding="utf-8"))
    os.replace(content, pipe)


def _accounts(engine: Engine, tenant_id: str) -> int:
    with engine.connect() as conn:
        return len(
            conn.execute(select(accounts.c.id).where(accounts.c.tenant_id == tenant_id)).all()
        )


def test_enqueue_runs_ahead_of_the_scheduled_queue(tmp_path: Path, pg_store: str) -> None:
    yearly = "0 0 1 1 *"
    tenants = [
        tenant(f"q{n}", small_directory(tmp_path / f"q{n}.csv", 3), schedule=yearly)
        for n in range(4)
    ]
    config = fleet_config(tmp_path, pg_store, tenants)
    engine = upgraded(pg_store)
    for item in tenants[:3]:  # a backlog of scheduled runs, as the dispatcher queues them
        _defer_scheduled(config, item["id"])
    asked = run(config, "sync", "--tenant", "q3", "--enqueue")
    assert asked.code == 0 and "q3: run queued" in asked.out, asked
    again = run(config, "sync", "--tenant", "q0", "--enqueue")
    assert "already queued; it now goes first" in again.out, again
    # q1's settings change while its run waits: the run uses the settings of its start
    tenants[1]["account_name_source"] = "email_local_part"
    config = fleet_config(tmp_path, pg_store, tenants)
    assert run(config, "tenants", "list").code == 0  # provisions the file's new settings
    worker = Watched(config, "worker", "--concurrency", "1")
    try:
        wait_for(lambda: len(run_rows(engine)) == 4, 60, "four runs")
    finally:
        worker.process.send_signal(signal.SIGTERM)
        assert worker.finish(60).code == 0
    order = [row.tenant_id for row in run_rows(engine)]
    assert order[:2] == ["q0", "q3"] or order[:2] == ["q3", "q0"], order
    assert sorted(order[2:]) == ["q1", "q2"]
    with engine.connect() as conn:
        names = conn.execute(select(accounts.c.tenant_id, accounts.c.name)).all()
    assert sorted(n for t, n in names if t == "q1") == ["user0", "user1", "user2"]
    assert all(not n.startswith("user") for t, n in names if t == "q2"), names


def _defer_scheduled(config: Path, tenant_id: str) -> None:
    from sync.config.settings import load_settings
    from sync.entry.fleet.app import SCHEDULED, make_app, run_job
    from sync.store.engine import make_engine
    from sync.timeutil import utc_now

    settings = load_settings(config)
    engine = make_engine(settings.database.url)
    fleet = make_app(settings, engine)
    with fleet.app.open():
        assert run_job(fleet, tenant_id, utc_now(), SCHEDULED)
    engine.dispose()


def test_sigterm_returns_a_run_that_does_not_finish_and_another_worker_runs_it(
    tmp_path: Path, pg_store: str
) -> None:
    pipe = tmp_path / "slow.csv"
    os.mkfifo(pipe)
    config = fleet_config(tmp_path, pg_store, [tenant("slow", pipe, schedule=EVERY_5S)])
    engine = upgraded(pg_store)
    returned = threading.Event()
    holder = threading.Thread(target=_hold, args=(pipe, returned), daemon=True)
    holder.start()
    first = Watched(config, "worker", "--concurrency", "1")
    wait_for(lambda: bool(readers_of(pipe, [first.process.pid])), 60, "the run started")
    first.process.send_signal(signal.SIGTERM)
    stopped = first.finish(30)
    returned.set()
    assert stopped.code == 1, stopped.err[-2000:]  # stop_timeout_seconds = 2: returned
    assert "returning them" in stopped.err
    assert _accounts(engine, "slow") == 0  # rolled back
    second = Watched(config, "worker", "--concurrency", "1")
    try:
        feed = threading.Thread(target=_feed, args=(pipe, tmp_path), daemon=True)
        feed.start()
        feed.join(60)
        assert not feed.is_alive(), "the returned run was not retried"
        wait_for(lambda: _accounts(engine, "slow") == 5, 60, "the retried run applied")
    finally:
        second.process.send_signal(signal.SIGTERM)
        assert second.finish(60).code == 0


def test_a_tenant_a_manual_sync_holds_is_run_again_later(tmp_path: Path, pg_store: str) -> None:
    from sync.store.locks import named_lock

    config = fleet_config(
        tmp_path,
        pg_store,
        [tenant("busy", small_directory(tmp_path / "u.csv", 3), schedule=EVERY_5S)],
    )
    engine = upgraded(pg_store)
    worker = Watched(config, "worker", "--concurrency", "1")
    try:
        with named_lock(engine, "tenant:busy") as held:  # what a manual `sync` holds
            assert held
            worker.wait_for("being synced elsewhere: run again in 15s", 60)
            assert run_rows(engine) == []
        wait_for(lambda: _accounts(engine, "busy") == 3, 60, "the run after the manual one")
    finally:
        worker.process.send_signal(signal.SIGTERM)
        assert worker.finish(60).code == 0


def test_the_consoles_resync_asks_the_fleet_when_workers_serve_the_store(
    tmp_path: Path, pg_store: str
) -> None:
    from sync.config.settings import load_settings
    from sync.entry.fleet.app import request_run

    tenants = [tenant("r0", small_directory(tmp_path / "r0.csv", 2), schedule="0 0 1 1 *")]
    config = fleet_config(tmp_path, pg_store, tenants)
    engine = upgraded(pg_store)
    settings = load_settings(config)
    assert request_run(settings, engine, "r0") is None  # no worker: the console runs it itself
    worker = Watched(config, "worker", "--concurrency", "1")
    try:
        wait_for(lambda: request_run(settings, engine, "r0") is not None, 30, "a live worker")
        wait_for(lambda: len(run_rows(engine)) == 1, 60, "the requested run")
    finally:
        worker.process.send_signal(signal.SIGTERM)
        assert worker.finish(60).code == 0
    assert [row.tenant_id for row in run_rows(engine)] == ["r0"]


@contextlib.contextmanager
def store_unreachable(engine: Engine) -> Iterator[None]:
    """The store refuses every connection and drops the open ones (a failover, a network cut)."""
    database = engine.url.database
    admin = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
            {"db": database},
        )
        try:
            yield
        finally:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
    admin.dispose()


def test_a_worker_whose_connections_keep_dropping_starts_again_and_serves(
    tmp_path: Path, pg_store: str
) -> None:
    """Procrastinate ends its worker on a database error; the process starts a new one (after a
    back-off) instead of exiting, and serves again once the store is back."""
    from sync.config.settings import load_settings
    from sync.entry.fleet.app import request_run

    tenants = [tenant("d0", small_directory(tmp_path / "d0.csv", 2), schedule="0 0 1 1 *")]
    config = fleet_config(tmp_path, pg_store, tenants)
    engine = upgraded(pg_store)
    worker = Watched(config, "worker", "--concurrency", "1")
    try:
        worker.wait_for("started: concurrency", 30)
        with store_unreachable(engine):
            wait_for(lambda: _losses(worker) >= 1, 90, "the cut noticed")
        assert worker.process.poll() is None, worker.finish(5).err[-2000:]
        settings = load_settings(config)
        wait_for(lambda: request_run(settings, engine, "d0") is not None, 60, "a live worker")
        wait_for(lambda: _accounts(engine, "d0") == 2, 60, "the requested run")
    finally:
        worker.process.send_signal(signal.SIGTERM)
        finished = worker.finish(60)
    assert finished.code == 0, finished.err[-2000:]
    assert _losses(worker) >= 1


def _losses(worker: Watched) -> int:
    return sum("lost the store" in line for line in list(worker.err))
