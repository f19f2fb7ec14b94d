"""SmartHR and date-sweep benchmark (SPEC §16): prints figures, asserts nothing.

1. 20,000 crews over 200 pages from the wire emulator (tests/smarthr/emulator.py, in its own
   process): the bare paging time (requests following `Link` from this process, the token sent
   as the source sends it, JSON decoded, nothing else) against `clomo-sync sync --full` of a
   SmartHR tenant (a child process: a first run into a new SQLite store, then a run with no
   change), with the run's peak memory (its VmHWM, from wait4). Targets: a run at most 1.5x the
   bare paging, at most 120 MB. The same two runs are also measured in one process (SPEC §16's
   "in the same process"): a child that pages bare and then runs the tenant through the service
   `sync` calls, both warm; and a child that does so four times on a loaded store, its 2nd to
   4th runs measured (a long-lived process's: a scheduler's, a worker's). A run whose pages
   come from its reader process (sync.sources.smarthr.reader) has its peak given as its own
   plus the reader's.
2. The date sweep over 100,000 stored accounts on SQLite (loaded by a CSV run with dates): a
   sweep that disables 200 leavers and activates 200 joiners, then one that finds nothing due.
   Target: at most 2 s.

Each timing is the median of `--repeat` runs; this machine is shared, so the figures move.
Usage: .venv/bin/python bench/smarthr.py [--crews 20000] [--accounts 100000] [--repeat 3]
       [--part both|smarthr|sweep]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync.sources.bearer import BearerAuth  # noqa: E402
from tests.smarthr.emulator import TOKEN, SmartHrEmulator, make_crew  # noqa: E402

TOKEN_ENV = "BENCH_SMARTHR_TOKEN"
LATER_RUNS = 3  # no-change runs measured in a process after its first (a scheduler's, a worker's)
CLI = [sys.executable, "-m", "sync"]


def serve(crews: int) -> None:
    """The emulator's own process: serves `crews` crews until its standard input closes."""
    emulator = SmartHrEmulator(crews=[make_crew(n) for n in range(1, crews + 1)]).start()
    print(emulator.port, flush=True)
    sys.stdin.read()
    emulator.stop()


def bare_paging(url: str) -> tuple[float, int]:
    """Seconds to GET every page as the source does, and the crews seen."""
    started, seen = time.perf_counter(), 0
    session = requests.Session()
    bearer = BearerAuth(lambda: TOKEN)  # as the source sends it (no .netrc looked up)
    following: str | None = f"{url}/api/v1/crews?page=1&per_page=100"
    while following:
        answer = session.get(following, auth=bearer, timeout=60)
        answer.raise_for_status()
        seen += len(answer.json())
        following = answer.links.get("next", {}).get("url")
    session.close()
    return time.perf_counter() - started, seen


def config(folder: Path, source: str, **tenant: str) -> Path:
    path = folder / "clomo-sync.toml"
    keys = "\n".join(f"{k} = {v}" for k, v in tenant.items())
    path.write_text(
        f'[database]\nurl = "sqlite:///{folder}/store.db"\n\n'
        # delivery to a closed port ends at once: the figures are the run's, the 20,000
        # invitations stay queued (file delivery would fsync each, minutes of it)
        '[mail]\ndelivery = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = 9\n'
        'from_address = "CLOMO <noreply@example.com>"\n\n'
        '[[tenants]]\nid = "bench"\ntimezone = "Asia/Tokyo"\n'
        'account_name_source = "employee_code"\nmax_disable = 0\nmax_disable_percent = 0\n'
        'reset_url = "https://panel.example.com/reset?token={token}"\n'
        f"{keys}\n\n[tenants.source]\n{source}\n",
        encoding="utf-8",
    )
    return path


def timed_sync(path: Path) -> tuple[float, float, float, str]:
    """One `sync --full` in a child process: (the run's seconds from its report, the command's
    wall seconds with start-up, its peak MB with its reader process's, the run's status)."""
    started = time.perf_counter()
    command = [*CLI, "--verbose", "--config", str(path), "sync", "--tenant", "bench", "--full"]
    with tempfile.TemporaryFile() as log:  # the log, read after the child is reaped by wait4
        child = subprocess.Popen(
            [*command, "--json"],
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, TOKEN_ENV: TOKEN},
        )
        out = child.stdout.read() if child.stdout else b""
        _, _, usage = os.wait4(child.pid, 0)
        child.returncode = 0
        wall = time.perf_counter() - started
        log.seek(0)
        err = log.read()
    report = json.loads(out.decode().splitlines()[0])
    run = (_at(report["finished_at"]) - _at(report["started_at"])).total_seconds()
    return run, wall, usage.ru_maxrss / 1024 + reader_peak(err.decode()), report["status"]


def reader_peak(log: str) -> float:
    """The reader process's peak MB, from the run's log line about it (0: none started)."""
    found = re.search(r"came from the reader process \(its peak ([0-9.]+) MB\)", log)
    return float(found[1]) if found else 0.0


def in_process(path: str, url: str, rounds: int) -> None:
    """The measuring child of `warm_sync`: `rounds` times the bare paging, then the run as
    `sync --full` makes it (sync.services.runner.run_tenant, without the delivery after it), in
    this one process; prints each round's times as a line of JSON."""
    from sync.config.settings import load_settings
    from sync.services.runner import RunOptions, run_tenant
    from sync.store.engine import open_store

    settings = load_settings(Path(path))
    engine = open_store(settings.database.url)
    logged = io.StringIO()
    logging.getLogger("sync.sources.smarthr").addHandler(logging.StreamHandler(logged))
    logging.getLogger("sync.sources.smarthr").setLevel(logging.INFO)
    for _ in range(rounds):
        bare, _ = bare_paging(url)
        started = time.perf_counter()
        report = run_tenant(settings, settings.tenants[0], engine, RunOptions(full=True))
        run = time.perf_counter() - started
        reader_mb = reader_peak(logged.getvalue())
        figures = {"bare": bare, "run": run, "status": report.status, "reader_mb": reader_mb}
        print(json.dumps(figures), flush=True)


def warm_sync(path: Path, url: str, rounds: int = 1) -> list[tuple[float, float, float, str]]:
    """Each round's (bare paging seconds, run seconds, peak MB, status), all timed in one child
    process (the peak is the process's, its reader process's added)."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--in-process", str(path), url, str(rounds)],
        stdout=subprocess.PIPE,
        env={**os.environ, TOKEN_ENV: TOKEN},
    )
    out = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    assert status == 0, out.decode()[-2000:]
    measured = [json.loads(line) for line in out.decode().splitlines()[-rounds:]]
    peak = usage.ru_maxrss / 1024 + max(figures["reader_mb"] for figures in measured)
    return [(f["bare"], f["run"], peak, f["status"]) for f in measured]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def smarthr_figures(crews: int, repeat: int) -> None:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(crews)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None and server.stdin is not None
    url = f"http://127.0.0.1:{int(server.stdout.readline())}"
    try:
        bare = [bare_paging(url) for _ in range(repeat)]
        assert all(seen == crews for _, seen in bare), bare
        source = f'kind = "smarthr"\nbase_url = "{url}"\naccess_token_env = "{TOKEN_ENV}"'
        firsts, agains, warm_firsts, warm_agains, later = [], [], [], [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as folder:
                path = config(Path(folder), source)
                firsts.append(timed_sync(path))
                agains.append(timed_sync(path))
            with tempfile.TemporaryDirectory() as folder:
                path = config(Path(folder), source)
                warm_firsts += warm_sync(path, url)
                warm_agains += warm_sync(path, url)
                later += warm_sync(path, url, LATER_RUNS + 1)[1:]
    finally:
        server.stdin.close()
        server.wait()
    paging = statistics.median(t for t, _ in bare)
    print(f"SmartHR, {crews} crews in {-(-crews // 100)} pages (median of {repeat})")
    print(f"  bare paging from this process      {paging:6.2f} s")
    print("  (run: its report's start to end, read, plan and commit with the emails queued;")
    print("   command: the process's wall time, start-up included; then the same runs in one")
    print("   process: the bare paging and the run through the service, both warm, the ratio")
    print("   each round's own, the median of those)")
    for label, runs, warm in (
        ("sync --full, new SQLite store", firsts, warm_firsts),
        ("sync --full, no change", agains, warm_agains),
    ):
        seconds, wall, peak, statuses = _summary(runs)
        print(f"  {label:<30} run {seconds:6.2f} s {seconds / paging:5.2f}x  command {wall:6.2f} s"
              f"  peak {peak:5.1f} MB  ({statuses})")  # fmt: skip
        bare_s, seconds, peak, statuses = _summary(warm)
        ratio = statistics.median(run / bare_round for bare_round, run, _, _ in warm)
        print(f"  {'':<30} in one process: bare {bare_s:5.2f} s run {seconds:6.2f} s {ratio:5.2f}x"
              f"  peak {peak:5.1f} MB  ({statuses})")  # fmt: skip
    bare_s, seconds, peak, statuses = _summary(later)
    ratio = statistics.median(run / bare_round for bare_round, run, _, _ in later)
    print(f"  {'no change, later runs':<30} bare {bare_s:5.2f} s run {seconds:6.2f} s"
          f" {ratio:5.2f}x  peak {peak:5.1f} MB  ({statuses}; {len(later)} runs, the 2nd to"
          f" {LATER_RUNS + 1}th of a process, as a scheduler's or a worker's)")  # fmt: skip


def _summary(rounds: list[tuple[float, float, float, str]]) -> tuple[float, float, float, str]:
    """Rounds of (seconds, seconds, peak MB, status): the two medians, the highest peak, and
    the statuses met."""
    first = statistics.median(r[0] for r in rounds)
    second = statistics.median(r[1] for r in rounds)
    return first, second, max(r[2] for r in rounds), ",".join(sorted({r[3] for r in rounds}))


def sweep_figures(accounts: int, repeat: int) -> None:
    from sync.config.settings import load_settings
    from sync.services.datesweep import sweep_dates
    from sync.store.engine import open_store

    today = date(2027, 3, 31)
    with tempfile.TemporaryDirectory() as folder:
        users = Path(folder) / "users.csv"
        with users.open("w", newline="", encoding="utf-8") as out:
            rows = csv.writer(out)
            rows.writerow(["source_id", "primary_email", "employee_code", "start_date", "end_date",
                           "emails", "given_name", "family_name", "display_name"])  # fmt: skip
            for n in range(accounts):
                start = today + timedelta(days=1) if n % 500 == 1 else date(2020, 4, 1)
                end = today if n % 500 == 2 else None
                rows.writerow([f"id{n}", f"p{n}@example.com", f"E{n:06d}", start, end or "",
                               "", "太郎", f"山田{n}", f"山田{n} 太郎"])  # fmt: skip
        path = config(Path(folder), f'kind = "csv"\npath = "{users}"', auth_type='"saml"')
        # the load queues no email: SSO accounts (auth_type = "saml")
        loaded = subprocess.run(
            [*CLI, "--config", str(path), "sync", "--tenant", "bench", "--json"],
            capture_output=True,
            check=False,
        )
        assert loaded.returncode == 0, (loaded.stdout + loaded.stderr).decode()[-2000:]
        settings = load_settings(path)
        tenant = settings.tenants[0]
        engine = open_store(settings.database.url)
        # 1 April 00:00 JST: the leavers' day after, the joiners' first day
        moment = datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            report = sweep_dates(settings, tenant, engine, moment)
            timings.append((time.perf_counter() - started, report.counts))
        engine.dispose()
    first, counts = timings[0]
    idle = statistics.median(t for t, _ in timings[1:]) if len(timings) > 1 else float("nan")
    print(f"Date sweep over {accounts} stored accounts, SQLite")
    print(f"  sweep with changes                 {first:6.2f} s  (disabled {counts['disabled']}, "
          f"enabled {counts['enabled']}, emails {counts['emails_queued']})")  # fmt: skip
    print(f"  sweep with nothing due             {idle:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crews", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part", choices=["both", "smarthr", "sweep"], default="both")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--in-process", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        path, url, rounds = args.in_process
        in_process(path, url, int(rounds))
        return
    if args.serve:
        serve(args.serve)
        return
    if args.part in ("both", "smarthr"):
        smarthr_figures(args.crews, args.repeat)
    if args.part in ("both", "sweep"):
        sweep_figures(args.accounts, args.repeat)


if __name__ == "__main__":
    main()
