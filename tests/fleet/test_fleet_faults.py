"""Faults of one worker among two, each logging in as its own PostgreSQL role (SPEC §15,
TESTING.md "fleet faults"): after each, the tenant runs again.

The tenants are due every five seconds and so is the dispatcher. One tenant's directory is a named
pipe: its run blocks reading it until the test writes, which is how a run is held open.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from sync.timeutil import as_utc
from tests.fleet.conftest import Roles
from tests.fleet.test_fleet_workers import fleet_config, readers_of, run_rows
from tests.ops.conftest import Watched, small_directory, tenant, upgraded, wait_for
from tests.support.configs import person, write_users

EVERY_5S = "*/5 * * * * *"
TIMING = {
    "dispatch_cron": EVERY_5S,
    "heartbeat_seconds": 1,
    "stalled_after_seconds": 6,
    "stop_timeout_seconds": 2,
}


def test_a_job_whose_bookkeeping_fails_does_not_stop_its_tenant(
    tmp_path: Path, worker_roles: Roles
) -> None:
    """The fault of issue 23: a run ends, its worker's `finish_job` fails (the session it ran on
    ended), and the worker lives on. The job stays `doing` under a worker whose heartbeat is
    fine; its tenant must run again all the same, and the job must not stay `doing`.

    The issue produced it by cutting the worker's role off until finish_job's wait for the pool
    timed out, which races the worker's other queries (a beat, a deferral) waiting on the same
    pool: whichever times out first decides whether the loop or only the job is lost. Here the
    job's row is held (FOR UPDATE) so finish_job waits on it, and only the session that waits is
    ended: the same state, every time, in seconds."""
    pipe = tmp_path / "held.csv"
    os.mkfifo(pipe)
    tenants = [
        tenant("held", pipe, schedule=EVERY_5S),
        tenant("other", small_directory(tmp_path / "other.csv", 3), schedule=EVERY_5S),
    ]
    config = fleet_config(tmp_path, worker_roles.owner_url, tenants, TIMING)
    engine = upgraded(worker_roles.owner_url)
    workers = [
        Watched(config, "worker", "--concurrency", "1", env={"CLOMO_SYNC_DATABASE__URL": url})
        for url in worker_roles.worker_urls
    ]
    pids = [w.process.pid for w in workers]
    try:
        release = threading.Event()
        holder = threading.Thread(target=_hold_then_feed, args=(pipe, tmp_path, release))
        holder.start()
        wait_for(lambda: bool(readers_of(pipe, pids)), 90, "a run reading the pipe")
        victim = pids.index(readers_of(pipe, pids)[0])
        role = worker_roles.names[victim]
        with _row_held(worker_roles.admin, _running_job(engine, "held")) as job:
            release.set()  # the run ends; its finish_job waits for the row
            wait_for(lambda: _end_waiting(worker_roles.admin, role) > 0, 60, "finish_job")
        holder.join(30)
        workers[victim].wait_for("the queue's finish_job failed", 60)
        ended = time.time()
        wait_for(lambda: _ran_since(engine, "held", ended), 90, "a run of the held tenant")
        wait_for(lambda: _status(engine, job) != "doing", 90, "the lost job no longer doing")
        assert workers[victim].process.poll() is None  # recovered without a restart
    finally:
        release.set()
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        finished = [w.finish(60) for w in workers]
    assert all(outcome.code == 0 for outcome in finished), [f.err[-3000:] for f in finished]


def _hold_then_feed(pipe: Path, root: Path, release: threading.Event) -> None:
    """Opens the pipe for writing (returns once a run opened it), waits for `release`, writes
    the directory and puts a plain file in the pipe's place for the later runs."""
    content = root / "held-content.csv"
    write_users(content, [person(n) for n in range(3)])
    with pipe.open("w", encoding="utf-8") as handle:
        release.wait(120)
        with contextlib.suppress(BrokenPipeError):
            handle.write(content.read_text(encoding="utf-8"))
    os.replace(content, pipe)


def _running_job(engine: Engine, tenant_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT id FROM procrastinate_jobs "
                    "WHERE status = 'doing' AND args->>'tenant_id' = :tenant"
                ),
                {"tenant": tenant_id},
            ).scalar_one()
        )


@contextlib.contextmanager
def _row_held(admin: Engine, job: int) -> Iterator[int]:
    """The job's row locked by a transaction of the test's until the block ends."""
    with admin.connect() as conn, _transaction(conn):
        conn.execute(
            text("SELECT 1 FROM procrastinate_jobs WHERE id = :id FOR UPDATE"), {"id": job}
        )
        yield job


@contextlib.contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    conn.execute(text("BEGIN"))  # the admin engine autocommits: an explicit transaction
    try:
        yield
    finally:
        conn.execute(text("ROLLBACK"))


def _end_waiting(admin: Engine, role: str) -> int:
    """Ends the role's session waiting for a lock in finish_job: how many were ended."""
    with admin.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE usename = :role AND wait_event_type = 'Lock' "
                    "AND query LIKE '%procrastinate_finish_job%'"
                ),
                {"role": role},
            ).scalar_one()
        )


def _status(engine: Engine, job: int) -> str | None:
    with engine.connect() as conn:
        status = conn.execute(
            text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job}
        ).scalar()
    return None if status is None else str(status)


def _ran_since(engine: Engine, tenant_id: str, since: float) -> bool:
    rows: list[Any] = run_rows(engine)
    return any(
        r.tenant_id == tenant_id
        and r.status == "succeeded"
        and as_utc(r.started_at).timestamp() > since
        for r in rows
    )


def test_a_stopping_worker_beats_until_its_runs_end(tmp_path: Path, pg_store: str) -> None:
    """SIGTERM with a run in progress and a stop grace well above `stalled_after_seconds`: the
    worker keeps beating through the grace, so it is not declared dead and its run is not
    retried while it goes on; it ends the run and exits 0."""
    pipe = tmp_path / "held.csv"
    os.mkfifo(pipe)
    timing = {**TIMING, "stalled_after_seconds": 3, "stop_timeout_seconds": 120}
    config = fleet_config(tmp_path, pg_store, [tenant("held", pipe, schedule=EVERY_5S)], timing)
    engine = upgraded(pg_store)
    release = threading.Event()
    holder = threading.Thread(target=_hold_then_feed, args=(pipe, tmp_path, release))
    holder.start()
    worker = Watched(config, "worker", "--concurrency", "1")
    try:
        wait_for(lambda: bool(readers_of(pipe, [worker.process.pid])), 90, "the run started")
        job = _running_job(engine, "held")
        worker.process.terminate()
        worker.wait_for("stopping: no new run starts", 30)
        stopped = time.time()
        # a beat later than the stalled timeout after the stop began: never dead meanwhile
        wait_for(lambda: _beat_after(engine, stopped + 3), 60, "a beat after the stalled timeout")
        assert _status(engine, job) == "doing"
    finally:
        release.set()
        holder.join(30)
        finished = worker.finish(60)
    assert finished.code == 0, finished.err[-3000:]
    assert [row.status for row in run_rows(engine)] == ["succeeded"]


def _beat_after(engine: Engine, moment: float) -> bool:
    with engine.connect() as conn:
        beat = conn.execute(text("SELECT max(last_heartbeat) FROM procrastinate_workers")).scalar()
    return beat is not None and as_utc(beat).timestamp() > moment
