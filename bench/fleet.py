"""The fleet at scale (issue 15): one tick of thousands of LDAP tenants on `clomo-sync worker`.

    python bench/fleet.py [--tenants 5000] [--people 100] [--workers 1,2] [--concurrency 4,8]
                          [--changed-percent 1] [--directories N] [--keep]

Private slapds hold the tenants, each an `ou` (`ou=t00001,dc=example,dc=com`, `--people`
inetOrgPersons each): `--directories` of them, one per 500 tenants by default. (Tenants have
directories of their own; one slapd holding 500,000 entries spent about 0.4 s of its CPU on each
paged search of one `ou`, which measured slapd, not clomo-sync.) A temporary PostgreSQL database
is the store; the tenants are the store's own (`clomo-sync tenants apply`), LDAP sources with
delta reads, SSO sign-in (no email). First every tenant is run once (the initial full load, not
measured as a tick). Then, for each number of worker processes and each concurrency:

  no change  every tenant made due at once (the dispatcher's `tenant_dispatch.next_due_at`), the
             dispatcher queues them all, the workers run them: time from the tick until the last
             run is recorded (target: at most 300 s for 5,000 tenants);
  1 % change the same after one person of `--changed-percent` of the tenants changed.

Printed per tick: wall time, lag p50/p99 (a run's start minus its tick), runs per second, the
mean run's duration in ms (the per-run overhead: a delta read that finds nothing, plan, commit),
and the peak number of connections to the store's database. The dispatcher runs every second here
(`fleet.dispatch_cron = "* * * * * *"`) so a tick starts at once instead of at the next minute.
This is a benchmark, not a test: run it on a machine nobody else is using.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402

from tests.support.postgres import temporary_database  # noqa: E402
from tests.support.slapd import SUFFIX, SYNC_DN, SYNC_PW, Slapd, generalized  # noqa: E402

PASSWORD_ENV = "FLEET_BENCH_LDAP_PASSWORD"
NAMESPACE = uuid.UUID("0b6c1e0e-5a8e-4f4b-9d1e-6a1d7c0f1e15")
OLD = datetime(2024, 1, 1, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ou(tenant: int) -> str:
    return f"ou=t{tenant:05d},{SUFFIX}"


def directory(tenants: range, people: int) -> Iterator[str]:
    yield (
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        f"o: Example\n\ndn: {SYNC_DN}\nobjectClass: person\nobjectClass: simpleSecurityObject\n"
        f"cn: sync\nsn: sync\nuserPassword: {SYNC_PW}\n\n"
    )
    for t in tenants:
        yield f"dn: {ou(t)}\nobjectClass: organizationalUnit\nou: t{t:05d}\n\n"
        for p in range(1, people + 1):
            uid = f"u{p:04d}"
            yield (
                f"dn: uid={uid},{ou(t)}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
                f"cn: Person {p}\nsn: Family{p}\ngivenName: Given{p}\n"
                f"displayName: Given{p} Family{p}\nmail: {uid}@t{t:05d}.example.com\n"
                f"employeeNumber: E{p:06d}\nentryUUID: {uuid.uuid5(NAMESPACE, f'{t}-{p}')}\n"
                f"createTimestamp: {generalized(OLD)}\nmodifyTimestamp: {generalized(OLD)}\n\n"
            )


def tenants_toml(tenants: int, urls: list[str]) -> str:
    parts = []
    for t in range(1, tenants + 1):
        url = urls[server_of(t, len(urls))]
        parts.append(
            f'[[tenants]]\nid = "t{t:05d}"\nschedule = "0 0 1 1 *"\n'
            'account_name_source = "email_local_part"\nauth_type = "saml"\n'
            f'[tenants.source]\nkind = "ldap"\nurl = "{url}"\nbind_dn = "{SYNC_DN}"\n'
            f'password_env = "{PASSWORD_ENV}"\nbase_dn = "{ou(t)}"\n'
        )
    return "\n".join(parts)


def config_toml(database_url: str) -> str:
    return (
        f'[database]\nurl = "{database_url}"\n\n[mail]\ndelivery = "file"\n'
        'outbox_dir = "outbox"\n\n[fleet]\ndispatch_cron = "* * * * * *"\n'
        "heartbeat_seconds = 5\nstop_timeout_seconds = 30\n"
    )


@dataclass
class Tick:
    label: str
    workers: int
    concurrency: int
    wall: float
    lag_p50: float
    lag_p99: float
    runs: int
    per_run_ms: float
    peak_connections: int


class Bench:
    def __init__(self, workdir: Path, database_url: str, tenants: int) -> None:
        self.workdir, self.database_url, self.tenants = workdir, database_url, tenants
        self.config = workdir / "clomo-sync.toml"
        self.config.write_text(config_toml(database_url), encoding="utf-8")
        self.engine: Engine = create_engine(database_url)
        self.env = {**os.environ, PASSWORD_ENV: SYNC_PW, "PYTHONPATH": str(ROOT)}

    def cli(self, *args: str) -> str:
        command = [sys.executable, "-m", "sync", "--config", str(self.config), *args]
        done = subprocess.run(
            command, cwd=self.workdir, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def overdue_cost(self, passes: int = 7) -> float:
        """The median ms of one overdue-detection (watch) pass over every tenant, as the
        dispatcher makes each minute; a first pass (every tenant's watch created) not counted."""
        from sync.config.settings import load_settings
        from sync.services.watch import watch_pass

        settings = load_settings(self.config)
        watch_pass(settings, self.engine)
        spent = []
        for _ in range(passes):
            started = time.perf_counter()
            watch_pass(settings, self.engine)
            spent.append(time.perf_counter() - started)
        return statistics.median(spent) * 1000

    def workers(self, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
        command = [sys.executable, "-m", "sync", "--config", str(self.config), "worker"]
        logs = [(self.workdir / f"worker-{n}.log").open("ab") for n in range(count)]
        return [
            subprocess.Popen(
                [*command, "--concurrency", str(concurrency)],
                cwd=self.workdir,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            for handle in logs
        ]

    def scalar(self, query: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(query), params).scalar()

    def tick(self, label: str, workers: int, concurrency: int) -> Tick:
        """Makes every tenant due now and waits until each has a run started after it."""
        processes = self.workers(workers, concurrency)
        time.sleep(3)  # the workers start and register
        due = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenant_dispatch (tenant_id, next_due_at, merged_ticks) "
                    "SELECT id, :due, 0 FROM tenants ON CONFLICT (tenant_id) "
                    "DO UPDATE SET next_due_at = :due"
                ),
                {"due": due},
            )
        peak = Peak(self.engine)
        try:
            while self._done(due) < self.tenants:
                time.sleep(0.5)
        finally:
            peak.stop()
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(120)
        wall = self.scalar("SELECT max(finished_at) FROM runs WHERE started_at >= :due", due=due)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT started_at, finished_at FROM runs WHERE started_at >= :due"),
                {"due": due},
            ).all()
        lags = sorted((start - due).total_seconds() for start, _end in rows)
        durations = [(end - start).total_seconds() for start, end in rows]
        elapsed = (wall - due).total_seconds()
        return Tick(
            label,
            workers,
            concurrency,
            elapsed,
            statistics.median(lags),
            lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            len(rows),
            1000 * statistics.fmean(durations),
            peak.value,
        )

    def _done(self, due: datetime) -> int:
        return int(
            self.scalar(
                "SELECT count(DISTINCT tenant_id) FROM runs WHERE started_at >= :due", due=due
            )
        )


class Peak:
    """Samples the store database's connection count twice a second."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.value, self._stop = engine, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                self.value = max(self.value, int(conn.execute(query).scalar_one()) - 1)
                conn.commit()
                self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def change(servers: list[Slapd], tenants: int, percent: float, round_number: int) -> int:
    """One person's displayName in `percent` of the tenants (their modifyTimestamp moves)."""
    from ldap3 import MODIFY_REPLACE

    step = max(1, round(100 / percent))
    connections = [server.admin() for server in servers]
    changed = 0
    for t in range(1, tenants + 1, step):
        connections[server_of(t, len(servers))].modify(
            f"uid=u0001,{ou(t)}", {"displayName": [(MODIFY_REPLACE, [f"Changed {round_number}"])]}
        )
        changed += 1
    for conn in connections:
        conn.unbind()
    return changed


def server_of(tenant: int, servers: int) -> int:
    return (tenant - 1) % servers


def start_directories(workdir: Path, tenants: int, people: int, count: int) -> list[Slapd]:
    """`count` slapds, tenant t on server (t - 1) % count."""
    servers = []
    for number in range(count):
        slapd = Slapd(workdir / f"slapd{number}")
        ldif = workdir / f"directory{number}.ldif"
        with ldif.open("w", encoding="utf-8") as handle:
            handle.writelines(directory(range(number + 1, tenants + 1, count), people))
        slapd.load(ldif)
        slapd.start()
        servers.append(slapd)
    return servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=5000)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--concurrency", default="4,8")
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument(
        "--directories",
        type=int,
        default=0,
        help="slapd servers the tenants are spread over (default: one per 500 tenants)",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="clomo-fleet-bench-"))
    count = args.directories or max(1, -(-args.tenants // 500))
    servers = start_directories(workdir, args.tenants, args.people, count)
    log(f"{count} slapd servers: {args.tenants} tenants x {args.people} people")
    results: list[Tick] = []
    overdue_ms = float("nan")
    try:
        with temporary_database("clomo_fleet_bench") as url:
            bench = Bench(workdir, url, args.tenants)
            bench.cli("db", "upgrade")
            tenants = workdir / "tenants.toml"
            tenants.write_text(
                tenants_toml(args.tenants, [server.url for server in servers]), encoding="utf-8"
            )
            started = time.monotonic()
            bench.cli("tenants", "apply", str(tenants))
            log(f"tenants apply: {time.monotonic() - started:.1f}s")
            first = bench.tick("initial load", 2, 8)
            log(f"initial full load: {first.wall:.1f}s for {first.runs} runs")
            overdue_ms = bench.overdue_cost()
            log(f"overdue detection: {overdue_ms:.1f} ms per pass over {args.tenants} tenants")
            round_number = 0
            for workers in (int(w) for w in args.workers.split(",")):
                for concurrency in (int(c) for c in args.concurrency.split(",")):
                    results.append(bench.tick("no change", workers, concurrency))
                    log(_line(results[-1]))
                    round_number += 1
                    change(servers, args.tenants, args.changed_percent, round_number)
                    results.append(
                        bench.tick(f"{args.changed_percent:g} % changed", workers, concurrency)
                    )
                    log(_line(results[-1]))
            bench.engine.dispose()
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    print(f"{args.tenants} tenants x {args.people} people; target: a no-change tick <= 300 s")
    print(f"overdue detection: {overdue_ms:.1f} ms per dispatcher pass (target <= 50 ms)")
    print(HEADER)
    for tick in results:
        print(_line(tick))
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"fleet-{args.tenants}.json").write_text(
        json.dumps([t.__dict__ for t in results], indent=1), encoding="utf-8"
    )


HEADER = (
    f"{'tick':<14}{'workers':>8}{'conc.':>6}{'wall s':>9}{'lag p50':>9}{'lag p99':>9}"
    f"{'runs/s':>8}{'ms/run':>8}{'peak conn':>10}"
)


def _line(t: Tick) -> str:
    return (
        f"{t.label:<14}{t.workers:>8}{t.concurrency:>6}{t.wall:>9.1f}{t.lag_p50:>9.1f}"
        f"{t.lag_p99:>9.1f}{t.runs / max(t.wall, 1e-9):>8.1f}{t.per_run_ms:>8.0f}"
        f"{t.peak_connections:>10}"
    )


if __name__ == "__main__":
    main()
