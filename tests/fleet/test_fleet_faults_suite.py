"""The fault suite of SPEC §15 ("Proven by faults"): two real workers (each its own PostgreSQL role;
the dispatcher is their periodic job), PostgreSQL, a real SMTP server, tenants due every five
seconds. After each fault: every tenant ends a run again, no account is duplicated and no email is
sent twice. Each test has its own database (and roles), so the suite runs under xdist.

One tenant's directory is a named pipe: its run blocks reading it until the test writes, which is
how a run is held open (TESTING.md, "Cutting off one worker at a chosen moment").
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from sync.timeutil import as_utc
from tests.fleet.conftest import Roles
from tests.fleet.test_fleet_workers import fleet_config, readers_of, run_rows
from tests.ops.conftest import Watched, tenant, upgraded, wait_for
from tests.support.configs import person, write_users
from tests.support.private_postgres import private_cluster
from tests.web.mailbox import SmtpServer, free_port

EVERY_5S = "*/5 * * * * *"
TIMING = {
    "dispatch_cron": EVERY_5S,
    "heartbeat_seconds": 1,
    "stalled_after_seconds": 6,
    "stop_timeout_seconds": 2,
}
PEOPLE = 3
SETTLE = 90  # seconds allowed for every tenant to end a run after a fault (ticks are 5 s)


@dataclass
class Rig:
    """The fleet under test and what it is judged by."""

    root: Path
    engine: Engine
    config: Path
    smtp: SmtpServer
    tenants: list[str]
    workers: list[Watched] = field(default_factory=list)

    def start_worker(self, url: str) -> Watched:
        worker = Watched(
            self.config, "worker", "--concurrency", "2", env={"CLOMO_SYNC_DATABASE__URL": url}
        )
        self.workers.append(worker)
        return worker

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w.process.poll() is None]


@contextlib.contextmanager
def rig(
    root: Path, owner_url: str, tenants: list[dict[str, Any]], timing: dict[str, Any] = TIMING
) -> Iterator[Rig]:
    with SmtpServer() as smtp:
        config = fleet_config(root, owner_url, tenants, timing)
        mail = f'delivery = "smtp"\nsmtp_port = {smtp.port}\ntimeout_seconds = 5\n'
        config.write_text(
            config.read_text(encoding="utf-8").replace('delivery = "file"\n', mail),
            encoding="utf-8",
        )
        engine = upgraded(owner_url)
        fleet = Rig(root, engine, config, smtp, [t["id"] for t in tenants])
        try:
            yield fleet
        finally:
            for worker in fleet.workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGCONT)
                if worker.process.poll() is None:
                    worker.process.terminate()
            for worker in fleet.workers:
                worker.finish(60)
            engine.dispose()


def directory(root: Path, name: str, number: int) -> Path:
    """The tenant's people: their own addresses (one invitation each)."""
    people = [person(n + 1000 * number) for n in range(PEOPLE)]
    return write_users(root / f"{name}.csv", people)


def held_pipe(root: Path) -> Path:
    pipe = root / "held.csv"
    os.mkfifo(pipe)
    return pipe


def tenants_with_pipe(root: Path, pipe: Path, others: int = 2) -> list[dict[str, Any]]:
    found = [tenant("held", pipe, schedule=EVERY_5S, auth_type="password")]
    for n in range(others):
        name = f"t{n}"
        csv = directory(root, name, n + 1)
        found.append(tenant(name, csv, schedule=EVERY_5S, auth_type="password"))
    return found


class Holder:
    """Holds the pipe open for writing (so a run opens it and blocks reading), and at `feed`
    writes the held tenant's directory into it."""

    def __init__(self, pipe: Path, root: Path) -> None:
        self.pipe, self.content = pipe, root / "held-content.csv"
        write_users(self.content, [person(n) for n in range(PEOPLE)])
        self._feed = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self._thread.start()

    def _hold(self) -> None:
        with self.pipe.open("w", encoding="utf-8") as handle:
            self._feed.wait(300)
            with contextlib.suppress(BrokenPipeError):
                handle.write(self.content.read_text(encoding="utf-8"))

    def replace_with_file(self) -> None:
        """Later runs read a plain file; the open pipe stays with whoever holds it."""
        plain = self.pipe.with_suffix(".plain")
        plain.write_text(self.content.read_text(encoding="utf-8"), encoding="utf-8")
        os.replace(plain, self.pipe)

    def feed(self) -> None:
        self._feed.set()
        self._thread.join(30)


def running_worker(fleet: Rig, pipe: Path) -> int:
    """The index of the worker whose run holds the pipe open."""
    wait_for(lambda: bool(readers_of(pipe, fleet.pids())), 90, "a run reading the pipe")
    pid = readers_of(pipe, fleet.pids())[0]
    return [w.process.pid for w in fleet.workers].index(pid)


def every_tenant_runs_after(fleet: Rig, moment: float) -> None:
    """Each tenant ends a run (succeeded) that started after `moment`."""

    def ran() -> set[str]:
        return {
            r.tenant_id
            for r in run_rows(fleet.engine)
            if r.status == "succeeded" and as_utc(r.started_at).timestamp() > moment
        }

    wait_for(lambda: ran() >= set(fleet.tenants), SETTLE, f"a run of every tenant ({ran()})")


def nothing_twice(fleet: Rig, window: int = 0) -> None:
    """No account duplicated (count and the unique index), no email sent twice; every account's
    invitation delivered once. `window`: how many messages may arrive twice, with one Message-ID,
    when the fault can fall between the server's acceptance and its record (the documented
    window, docs/accounts_and_email.md)."""
    with fleet.engine.connect() as conn:
        per_tenant: dict[str, int] = dict(
            conn.execute(text("SELECT tenant_id, count(*) FROM accounts GROUP BY tenant_id")).all()
        )
        doubled = conn.execute(
            text(
                "SELECT tenant_id, source_id FROM accounts GROUP BY tenant_id, source_id "
                "HAVING count(*) > 1"
            )
        ).all()
    assert doubled == [], doubled
    assert per_tenant == dict.fromkeys(fleet.tenants, PEOPLE), per_tenant
    wanted = PEOPLE * len(fleet.tenants)
    wait_for(lambda: len(fleet.smtp.mailbox.messages) >= wanted, SETTLE, "every invitation")
    sent = Counter(
        (rcpt, message["Message-ID"], message["Subject"])
        for rcpt, message in fleet.smtp.mailbox.messages
    )
    per_address = Counter(rcpt for rcpt, _ in fleet.smtp.mailbox.messages)
    assert max(sent.values()) <= 2, sent
    assert sum(n - 1 for n in sent.values()) <= window, sent
    assert sum(n - 1 for n in per_address.values()) <= window, per_address


def test_a_frozen_worker_is_fenced_and_commits_nothing_when_it_wakes(
    tmp_path: Path, worker_roles: Roles
) -> None:
    """SIGSTOP mid-run past `stalled_after_seconds`: the other worker fences it (its sessions
    ended) and runs the tenant; SIGCONT: the woken run, which read the store before any account
    existed, would create them all again: it commits nothing and sends nothing."""
    pipe = held_pipe(tmp_path)
    with rig(tmp_path, worker_roles.owner_url, tenants_with_pipe(tmp_path, pipe)) as fleet:
        for url in worker_roles.worker_urls:
            fleet.start_worker(url)
        holder = Holder(pipe, tmp_path)
        frozen = running_worker(fleet, pipe)
        other = fleet.workers[1 - frozen]
        os.kill(fleet.workers[frozen].process.pid, signal.SIGSTOP)
        stopped = time.time()
        holder.replace_with_file()  # the retried run reads a plain file
        other.wait_for("fenced worker clomo-sync worker", 60)
        every_tenant_runs_after(fleet, stopped)
        os.kill(fleet.workers[frozen].process.pid, signal.SIGCONT)
        holder.feed()  # the woken run reads its directory and goes on to commit
        fleet.workers[frozen].wait_for("run abandoned, nothing committed", 60)
        nothing_twice(fleet)


def test_a_worker_killed_mid_run_loses_nothing(tmp_path: Path, worker_roles: Roles) -> None:
    """SIGKILL mid-run: its transaction rolls back with its sessions, the other worker retries
    its jobs, and every tenant runs."""
    pipe = held_pipe(tmp_path)
    with rig(tmp_path, worker_roles.owner_url, tenants_with_pipe(tmp_path, pipe)) as fleet:
        for url in worker_roles.worker_urls:
            fleet.start_worker(url)
        holder = Holder(pipe, tmp_path)
        killed = running_worker(fleet, pipe)
        fleet.workers[killed].process.kill()
        gone = time.time()
        holder.replace_with_file()
        holder.feed()  # nobody reads the pipe any more
        fleet.workers[1 - killed].wait_for("stalled: its worker died", 60)
        every_tenant_runs_after(fleet, gone)
        nothing_twice(fleet)


class Terminator:
    """Ends one random session of the worker roles every few tenths of a second, those in
    Procrastinate's `finish_job` first when there are any (the job's bookkeeping)."""

    def __init__(self, admin: Engine, roles: list[str]) -> None:
        self.admin, self.roles = admin, roles
        self.ended = 0
        self.errors: list[Exception] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Terminator:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        chance = random.Random()
        while not self._stop.wait(chance.uniform(0.05, 0.5)):
            try:
                self.ended += self._end_one()
            except Exception as error:  # the test fails on it, after the churn
                self.errors.append(error)

    def _end_one(self) -> int:
        with self.admin.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM ("
                        " SELECT pid FROM pg_stat_activity WHERE usename = ANY(:roles)"
                        " ORDER BY (query LIKE '%finish_job%' AND state = 'active') DESC,"
                        " random() LIMIT 1) AS one"
                    ),
                    {"roles": self.roles},
                ).scalar_one()
            )


def test_connections_ended_at_random_moments(tmp_path: Path, worker_roles: Roles) -> None:
    """For a while, a random session of the workers is ended every few tenths of a second
    (job completion included), 25 in all: afterwards every tenant runs, nothing is doubled."""
    tenants = [
        tenant(
            f"t{n}", directory(tmp_path, f"t{n}", n + 1), schedule=EVERY_5S, auth_type="password"
        )
        for n in range(3)
    ]
    with rig(tmp_path, worker_roles.owner_url, tenants) as fleet:
        for url in worker_roles.worker_urls:
            fleet.start_worker(url)
        # once serving: a worker that loses the store while it opens it exits (1) for its
        # supervisor to start again, which this test has none of
        for worker in fleet.workers:
            worker.wait_for(" started: concurrency", 60)
        with Terminator(worker_roles.admin, worker_roles.names) as terminator:
            # a worker that keeps losing the store waits longer each time (up to 30 s)
            wait_for(lambda: terminator.ended >= 25, 240, "25 sessions ended")
        assert terminator.errors == []
        quiet = time.time()
        every_tenant_runs_after(fleet, quiet)
        nothing_twice(fleet)
        gave_up = [w.err[-30:] for w in fleet.workers if w.process.poll() is not None]
        assert gave_up == [], gave_up  # no worker gave up


def test_postgresql_restarted_mid_run(tmp_path: Path) -> None:
    """The store's server restarted while a run is held open (a cluster of the test's own): the
    workers reconnect, the held run commits nothing, every tenant runs again."""
    pipe = held_pipe(tmp_path)
    with private_cluster() as cluster:
        url = cluster.url("fleet")
        with rig(tmp_path, url, tenants_with_pipe(tmp_path, pipe)) as fleet:
            for _ in range(2):
                fleet.start_worker(url)
            holder = Holder(pipe, tmp_path)
            held = running_worker(fleet, pipe)
            cluster.restart()
            restarted = time.time()
            holder.replace_with_file()
            holder.feed()  # the held run reads on, over sessions the restart ended
            fleet.workers[held].wait_for("run abandoned, nothing committed", 60)
            every_tenant_runs_after(fleet, restarted)
            # the deliverer waits for the store to record what the server accepted (sync.mail.
            # deliver); the other worker may still deliver the message in flight first, once
            nothing_twice(fleet, window=1)
            assert all(w.process.poll() is None for w in fleet.workers)


def test_a_web_restart(tmp_path: Path, worker_roles: Roles) -> None:
    """`web` killed and started again beside a running fleet: it serves again, and the fleet
    went on (every tenant runs, nothing doubled)."""
    tenants = [
        tenant(
            f"t{n}", directory(tmp_path, f"t{n}", n + 1), schedule=EVERY_5S, auth_type="password"
        )
        for n in range(2)
    ]
    with rig(tmp_path, worker_roles.owner_url, tenants) as fleet:
        for url in worker_roles.worker_urls:
            fleet.start_worker(url)
        port = free_port()
        web = Watched(fleet.config, "web", "--port", str(port))
        try:
            wait_for(lambda: _serves(port), 60, "web serving")
            web.process.kill()
            web.process.wait(30)
            killed = time.time()
            web = Watched(fleet.config, "web", "--port", str(port))
            wait_for(lambda: _serves(port), 60, "web serving again")
            every_tenant_runs_after(fleet, killed)
            nothing_twice(fleet)
        finally:
            web.process.terminate()
            web.finish(30)


def _serves(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False
