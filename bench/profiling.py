"""Where the time goes: cProfile of steps 2, 3, 4, 6 and 7, summarised by our functions and by
library.

Each profiled process calls what the command calls (`sync.services.runner.run_tenant` for
`sync`, without
the delivery after it; `sync.mail.deliver.deliver_due` for `deliver --flush`), after start-up and
opening the store; the profiler roughly doubles the cost of Python code, so the summary gives
shares, and the wall times in the table come from unprofiled runs.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab import Lab

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SYNC_DIR = str(ROOT / "sync") + "/"
TOP = 25


def profile_run(argv: list[str]) -> None:
    """In the profiled process: `WHAT CONFIG_OR_SPEC OUT.prof`, WHAT being `sync` (a full run of
    the bench tenant, as `clomo-sync sync --full` does before delivering), `deliver` (as
    `clomo-sync deliver --flush`) or `ldap3` (step 2's bare read; the second argument its spec)."""
    what, argument, out = argv
    profiler = cProfile.Profile()
    if what == "ldap3":
        from measure import ldap3_read

        started = time.perf_counter()
        profiler.runcall(ldap3_read, json.loads(argument))
        outcome: dict[str, Any] = {}
    else:
        from sync.config.settings import load_settings
        from sync.mail.deliver import deliver_due
        from sync.services.runner import RunOptions, run_tenant
        from sync.store.engine import open_store

        settings = load_settings(Path(argument))
        engine = open_store(settings.database.url)
        started = time.perf_counter()
        if what == "sync":
            tenant = settings.tenant("bench")
            report = profiler.runcall(run_tenant, settings, tenant, engine, RunOptions(full=True))
            outcome = {"status": report.status, "counts": report.counts}
        else:
            delivery = profiler.runcall(deliver_due, engine, settings, flush=True)
            outcome = {"sent": delivery.sent, "failed": delivery.failed}
    seconds = time.perf_counter() - started
    profiler.dump_stats(out)
    print(json.dumps({**outcome, "seconds": round(seconds, 2)}))


def profile_steps(lab: Lab, ldap3_spec: str, postgres: bool) -> dict[str, Any]:
    """Profiles step 2's read, a full run into a new SQLite store, the same run again (no
    change), with `postgres` a full run into a new PostgreSQL database, and step 7's delivery
    (of the store step 7 queued)."""
    from measure import copy_sqlite, remove_sqlite

    out: dict[str, Any] = {"ceiling": _profile(lab, "ceiling", "ldap3", ldap3_spec)}
    database = lab.workdir / "profiled.db"
    remove_sqlite(database)
    config = str(lab.config("profiled", f"sqlite:///{database}"))
    for key in ("full_sqlite", "again_sqlite"):
        out[key] = _profile(lab, key, "sync", config)
    if postgres:
        from tests.support.postgres import temporary_database

        with temporary_database("clomo_bench") as url:
            out["full_pg"] = _profile(lab, "full_pg", "sync", str(lab.config("profiled-pg", url)))
    queued = lab.workdir / "queued.db"
    if queued.exists():
        copy_sqlite(queued, lab.workdir / "profiled-deliver.db")
        config = str(lab.config("profiled-deliver", f"sqlite:///{lab.workdir}/profiled-deliver.db"))
        out["deliver"] = _profile(lab, "deliver", "deliver", config)
    return out


def _profile(lab: Lab, key: str, what: str, argument: str) -> dict[str, Any]:
    from lab import log

    log(f"profiling {key}")
    path = BENCH / "out" / f"profile-{key}-{lab.users}.prof"
    argv = [sys.executable, str(BENCH / "bench.py"), "--profile-run", what, argument, str(path)]
    completed = subprocess.run(
        argv, capture_output=True, text=True, env=lab.env(), cwd=ROOT, check=True
    )
    run = json.loads(completed.stdout.strip().splitlines()[-1])
    result = {"profiled_run": run, "prof_file": str(path.relative_to(ROOT)), **summarise(path)}
    path.with_suffix(".txt").write_text(render(key, result), encoding="utf-8")
    print(render(key, result))
    return result


def summarise(path: Path) -> dict[str, Any]:
    stats = pstats.Stats(str(path))
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in table.values())
    ours = [
        (ct, tt, nc, f"{_short(file)}:{line} {name}")
        for (file, line, name), (_cc, nc, tt, ct, _callers) in table.items()
        if file.startswith(SYNC_DIR)
    ]
    ours.sort(reverse=True)
    by_self = sorted(
        ((tt, nc, f"{_short(file)}:{line} {name}") for (file, line, name), (_cc, nc, tt, _ct, _c)
         in table.items()),
        reverse=True,
    )  # fmt: skip
    packages: dict[str, float] = {}
    for (file, _line, name), (_cc, _nc, tt, _ct, _callers) in table.items():
        package = _package(file, name)
        packages[package] = packages.get(package, 0.0) + tt
    return {
        "total_s": round(total, 2),
        "self_time_by_package": {
            k: round(v, 2) for k, v in sorted(packages.items(), key=lambda kv: -kv[1])
        },
        "sync_by_cumulative": [
            {"cum_s": round(ct, 2), "self_s": round(tt, 2), "calls": nc, "function": where}
            for ct, tt, nc, where in ours[:TOP]
        ],
        "top_self_time": [
            {"self_s": round(tt, 2), "calls": nc, "function": where}
            for tt, nc, where in by_self[:TOP]
        ],
    }


def _short(file: str) -> str:
    if file.startswith(str(ROOT) + "/"):
        return file[len(str(ROOT)) + 1 :]
    marker = "site-packages/"
    return file.split(marker, 1)[1] if marker in file else file


def _package(file: str, name: str) -> str:
    """Which code a function's own time belongs to."""
    if file.startswith(SYNC_DIR):
        return "sync (ours)"
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    if file == "~":  # built-ins: name them by what they belong to
        for word in ("sqlite3", "psycopg", "socket", "recv", "select", "poll"):
            if word in name:
                return f"built-in ({word})"
        return "built-in (other)"
    return "python stdlib"


def render(key: str, summary: dict[str, Any]) -> str:
    lines = [f"== profile of {key}: {summary['total_s']} s profiled", "self time by package:"]
    lines += [f"  {v:8.2f} s  {k}" for k, v in summary["self_time_by_package"].items()]
    lines.append("our functions by cumulative time (cum s, self s, calls):")
    lines += [
        f"  {e['cum_s']:8.2f} {e['self_s']:8.2f} {e['calls']:>9}  {e['function']}"
        for e in summary["sync_by_cumulative"]
    ]
    lines.append("top self time anywhere (self s, calls):")
    lines += [
        f"  {e['self_s']:8.2f} {e['calls']:>9}  {e['function']}" for e in summary["top_self_time"]
    ]
    return "\n".join(lines) + "\n"
