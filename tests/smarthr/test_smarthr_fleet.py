"""`POST /hooks/smarthr/{tenant}` with the fleet (SPEC §16, §11): a real `clomo-sync web` process
and a real `clomo-sync worker` on a temporary PostgreSQL database. A flood of 1,000 posts over a
few seconds queues one or two `sync_tenant` jobs and the worker makes one or two runs, not a
thousand; a wrong token answers 401, queues nothing and is not logged."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from sync.store.queue_stats import queue_stats
from tests.fleet.test_fleet_workers import FAST
from tests.ops.conftest import Watched, pg_store, upgraded, wait_for
from tests.scim.server import web_process
from tests.smarthr.conftest import WEBHOOK_TOKEN, smarthr_keys
from tests.smarthr.emulator import SmartHrEmulator
from tests.support.configs import table, write_config

__all__ = ["pg_store"]  # the fixture: a temporary PostgreSQL database

POSTS = 1000
CONNECTIONS = 4
HOOK = "/hooks/smarthr/acme"


def fleet_setup(root: Path, url: str, emulator: SmartHrEmulator) -> Path:
    tenant = {
        "id": "acme",
        "account_name_source": "employee_code",
        "reset_url": "https://panel.example.com/reset?token={token}",
        "schedule": "0 0 1 1 *",  # no scheduled tick during the test
        "source": smarthr_keys(emulator),
    }
    config = write_config(root / "clomo-sync.toml", url, root / "outbox", [tenant])
    with config.open("a", encoding="utf-8") as handle:
        # a flood's posts come far closer together than this: they settle into one ask
        handle.write("\n" + table("[web]", {"webhook_settle_seconds": 1}))
        handle.write("\n" + table("[fleet]", FAST))
    return config


@contextmanager
def fleet(config: Path, engine: Engine) -> Iterator[Watched]:
    """One live `clomo-sync worker`, stopped at the end."""
    worker = Watched(config, "worker", "--concurrency", "1")
    stalled = timedelta(seconds=FAST["stalled_after_seconds"])  # type: ignore[arg-type]

    def live() -> bool:
        with engine.connect() as conn:
            return queue_stats(conn, stalled).workers > 0

    try:
        wait_for(live, 60, "a live worker")
        yield worker
    finally:
        worker.process.send_signal(signal.SIGTERM)
        assert worker.finish(60).code == 0


def jobs(engine: Engine) -> dict[int, str]:
    """The tenant's `sync_tenant` jobs in the job table: id -> status."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT id, status FROM procrastinate_jobs WHERE task_name = 'sync_tenant' "
                "AND args->>'tenant_id' = 'acme'"
            )
        )
        return {int(row.id): str(row.status) for row in found}


class JobWatch:
    """Every `sync_tenant` job of the tenant the job table held while watched. The worker deletes
    a job that succeeded (`delete_jobs="successful"`), so the table is read over and over: a job
    lives there at least for its run (a SmartHR read and a commit), far longer than a read."""

    def __init__(self, engine: Engine) -> None:
        self.seen: dict[int, str] = {}
        self._engine, self._stop = engine, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> JobWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.seen.update(jobs(self._engine))
            self._stop.wait(0.01)


def finished_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM runs WHERE tenant_id = 'acme' AND finished_at IS NOT NULL")
        )
        return int(found.scalar_one())


def flood(base: str, token: str) -> list[int]:
    """POSTS posts over CONNECTIONS connections at once, as SmartHR's deliveries would come."""
    with httpx.Client(base_url=base, headers={"X-SmartHR-Token": token}, timeout=60) as client:

        def post(n: int) -> int:
            return client.post(HOOK, json={"event": "crew_updated", "n": n}).status_code

        with ThreadPoolExecutor(CONNECTIONS) as pool:
            return list(pool.map(post, range(POSTS)))


def test_a_flood_on_the_fleet_queues_one_or_two_runs(
    tmp_path: Path, pg_store: str, emulator: SmartHrEmulator
) -> None:
    config = fleet_setup(tmp_path, pg_store, emulator)
    engine = upgraded(pg_store)
    try:
        with fleet(config, engine) as worker, web_process(config, tmp_path / "web.log") as base:
            read_before = emulator.crew_requests
            log_path = tmp_path / "web.log"
            with JobWatch(engine) as watch:
                answers = flood(base, WEBHOOK_TOKEN)
                assert set(answers) == {202}
                # the settled ask comes once the flood is over; the job it queued then runs
                wait_for(lambda: finished_runs(engine) >= 1, 90, "the flood's run")
                wait_for(lambda: not jobs(engine), 90, "the queued jobs done")
            worker.wait_for("run succeeded", 60)
        # each run was a job of the worker's: the web process ran nothing itself
        assert 1 <= len(watch.seen) <= 2, watch.seen
        assert finished_runs(engine) == len(watch.seen)
        done = [line for line in worker.err if "run succeeded" in line]
        assert len(done) == len(watch.seen)
        assert all("sync.entry.fleet.tasks" in line and "tenant=acme" in line for line in done)
        assert emulator.crew_requests > read_before  # the worker read SmartHR
        assert log_path.read_text(encoding="utf-8").count("SmartHR webhook for acme") == POSTS
    finally:
        engine.dispose()


def test_a_wrong_token_on_the_fleet_is_401_queues_nothing_and_is_not_logged(
    tmp_path: Path, pg_store: str, emulator: SmartHrEmulator
) -> None:
    config = fleet_setup(tmp_path, pg_store, emulator)
    engine = upgraded(pg_store)
    wrong = "whk_wrong_0123456789abcdef"
    try:
        with fleet(config, engine), web_process(config, tmp_path / "web.log") as base:
            with httpx.Client(base_url=base, timeout=60) as client:
                answers = [
                    client.post(HOOK, headers={"X-SmartHR-Token": wrong}).status_code,
                    client.post(HOOK).status_code,  # no token
                    client.post(HOOK, headers={"X-SmartHR-Token": WEBHOOK_TOKEN[:-1]}).status_code,
                ]
            log_path = tmp_path / "web.log"
            wait_for(lambda: log_path.read_text().count("refused") >= 3, 30, "the refusals logged")
        assert answers == [401, 401, 401]
        assert jobs(engine) == {} and finished_runs(engine) == 0
        log = log_path.read_text(encoding="utf-8")
        assert "SmartHR webhook for acme: run" not in log  # what an accepted call logs
        assert wrong not in log and WEBHOOK_TOKEN not in log and WEBHOOK_TOKEN[:-1] not in log
    finally:
        engine.dispose()
