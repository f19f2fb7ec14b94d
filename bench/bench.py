"""clomo-sync at 100,000 users on this machine, with no network: speed and memory (issue 8).

    python bench/bench.py [--users 100000] [--runs 3] [--postgres-url URL] [--skip-postgres]
                          [--scaling-users 10000] [--profile] [--let-deliver]

Generates the directory (bench/people.py: the demo's mix at any size), loads it into a private
slapd on 127.0.0.1, and measures, each the median of `--runs` runs:

  1. floor     `ldapsearch -E pr=1000/noprompt` of the attributes a sync asks for;
  2. ceiling   a bare ldap3 paged read of the same attributes, in its own process;
  3. full      `clomo-sync sync --full` into a new SQLite store (every account, every email);
  4. again     the same, again, with nothing changed in the directory (rows written are counted);
  5. delta     a delta run after 1% of the entries changed (the store restored before each run);
  6. 3 and 4 on PostgreSQL (a temporary database per full run);
  7. deliver   `clomo-sync deliver --flush` of 10,000 queued emails to a local SMTP server.

Steps 3 to 6 time the worker from its start to the report it prints after committing; the worker
would then deliver the queued email, which is step 7's measure, so it is stopped there (SIGKILL,
a crash SPEC §5.4 allows; `--let-deliver` waits for it instead and also reports the whole run).
Peak memory is the worker's VmHWM at its report (steps 3-6) or ru_maxrss (1, 2, 7).
Prints a table and the targets' verdicts; writes everything to bench/out/bench-<users>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import people  # noqa: E402
from measure import (  # noqa: E402
    Sample,
    copy_sqlite,
    cpu_seconds,
    load_average,
    machine,
    pg_row_activity,
    remove_sqlite,
    run_child,
    store_state,
    wait_for_quiet,
)

TENANT = "bench"
PASSWORD_ENV = "BENCH_LDAP_PASSWORD"
SYNC_DN = f"cn=sync,{people.SUFFIX}"
SYNC_PW = "sync-password"
USER_FILTER = "(objectClass=inetOrgPerson)"
OUT = BENCH / "out"
DELIVERY_EMAILS = 10_000
# the profile attributes every run reads (sync.runner.PROFILE_ATTRIBUTES) and the naming rule's
PROFILE = (
    "primary_email",
    "emails",
    "employee_code",
    "given_name",
    "family_name",
    "display_name",
)


@dataclass
class Step:
    key: str
    title: str
    samples: list[Sample] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak_mb(self) -> float:
        return max(s.peak_rss_mb for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def slapd_cpu(self) -> float:
        return statistics.median(s.slapd_cpu for s in self.samples)

    @property
    def rest_cpu(self) -> float:
        """CPU of the rest of the machine: PostgreSQL, the SMTP server, anything else running."""
        return statistics.median(max(0.0, s.others_cpu - s.slapd_cpu) for s in self.samples)


# ---------------------------------------------------------------------------------------------
# the lab: slapd with the generated directory, an SMTP sink, configuration files


class CountingHandler:
    """An SMTP server's handler that accepts every message and only counts it."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def smtp_sink(port: int, counter: Any, ready: Any) -> None:
    """The local SMTP server (aiosmtpd), in a process of its own so its CPU can be counted."""
    from aiosmtpd.controller import Controller

    controller = Controller(CountingHandler(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    signal.pause()


@dataclass
class Lab:
    workdir: Path
    users: int
    slapd: Any
    smtp_port: int
    smtp_pid: int
    received: Any  # a shared counter of the messages the SMTP server accepted
    attributes: list[str]
    pg_admin_url: str | None
    settle: float = 0.0  # how long to wait for a quiet machine before each measured run

    def log(self, text: str) -> None:
        _log(text)

    def env(self) -> dict[str, str]:
        return {**os.environ, PASSWORD_ENV: SYNC_PW, "PYTHONPATH": str(ROOT)}

    def config(self, name: str, database_url: str, user_filter: str = USER_FILTER) -> Path:
        from tests.support.configs import write_config

        tenant = {
            "id": TENANT,
            "timezone": "Asia/Tokyo",
            "account_name_source": "email_local_part",
            "auth_type": "password",
            "collision": "suffix",
            "max_disable": 500,
            "reserved_names": list(people.RESERVED),
            "reset_url": "https://panel.example.com/password/reset?token={token}",
            "source": {
                "kind": "ldap",
                "url": self.slapd.url,
                "bind_dn": SYNC_DN,
                "password_env": PASSWORD_ENV,
                "base_dn": people.PEOPLE,
                "user_filter": user_filter,
                "dialect": "openldap",
                "page_size": 1000,
                # a year: a run without --full is a delta run
                "full_sync_interval_hours": 8760,
            },
        }
        mail = {"delivery": "smtp", "smtp_host": "127.0.0.1", "smtp_port": self.smtp_port}
        path = self.workdir / f"{name}.toml"
        return write_config(path, database_url, self.workdir / "eml", [tenant], mail)

    def sync(self, config: Path, *args: str, let_deliver: bool = False) -> Sample:
        argv = [sys.executable, "-m", "sync", "--config", str(config), "sync", "--tenant", TENANT]
        return self.worker([*argv, "--json", *args], stop_after_report=not let_deliver)

    def worker(self, argv: list[str], stop_after_report: bool) -> Sample:
        return self.measured(argv, stop_after_report=stop_after_report)

    def measured(self, argv: list[str], stop_after_report: bool, plain: bool = False) -> Sample:
        background = wait_for_quiet(self.settle) if self.settle else 0.0
        load = load_average()
        before = cpu_seconds(self.slapd_pid)
        sample = run_child(
            argv, self.env(), ROOT, stop_after_report=stop_after_report, stdout_null=plain
        )
        sample.slapd_cpu = cpu_seconds(self.slapd_pid) - before
        sample.load_before, sample.background_cores = load, background
        if plain:
            if sample.exit_code != 0:
                raise SystemExit(f"{argv[0]} failed ({sample.exit_code}): {sample.stderr_tail}")
            return sample
        if sample.report is not None and sample.report.get("status") not in ("succeeded", None):
            raise SystemExit(f"the worker's run did not succeed: {sample.report}")
        if sample.report is None and stop_after_report:
            raise SystemExit(f"the worker printed no report: {sample.stderr_tail}")
        return sample

    @property
    def slapd_pid(self) -> int:
        return int(self.slapd.process.pid)


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@contextmanager
def lab(users: int, pg_admin_url: str | None, workdir: Path, settle: float = 0.0) -> Iterator[Lab]:
    from tests.support.slapd import Slapd, free_port

    server = Slapd(workdir / "slapd", debug_level=256)  # 256: slapd.log names the attributes
    ldif = workdir / "people.ldif"
    started = time.monotonic()
    with ldif.open("w", encoding="utf-8") as handle:
        handle.writelines(people.directory_ldif(users, SYNC_DN, SYNC_PW))
    _log(f"generated {users} people in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    server.load(ldif)
    _log(f"loaded them with slapadd in {time.monotonic() - started:.1f} s")
    server.start()
    port, received, ready = free_port(), multiprocessing.Value("q", 0), multiprocessing.Event()
    sink = multiprocessing.Process(target=smtp_sink, args=(port, received, ready), daemon=True)
    sink.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the local SMTP server did not start")
        assert sink.pid is not None
        attributes = sync_attributes()
        yield Lab(
            workdir, users, server, port, sink.pid, received, attributes, pg_admin_url, settle
        )
    finally:
        sink.terminate()
        sink.join()
        server.stop()


def sync_attributes() -> list[str]:
    """The LDAP attributes a run of the bench tenant asks for, from the dialect's data as the
    source computes them (checked against slapd's log after the runs)."""
    from sync.sources.ldap.dialects import OPENLDAP

    names = {n for a in ("source_id", *PROFILE) for n in OPENLDAP.places.get(a, ())}
    names |= {OPENLDAP.disabled.attribute, OPENLDAP.changed_attribute}
    return sorted(names, key=str.lower)


# ---------------------------------------------------------------------------------------------
# the steps


def floor(lab: Lab, runs: int) -> Step:
    step = Step("floor", "1. ldapsearch -E pr=1000/noprompt")
    argv = [
        "ldapsearch", "-x", "-LLL", "-H", lab.slapd.url, "-D", SYNC_DN, "-w", SYNC_PW,
        "-b", people.PEOPLE, "-E", "pr=1000/noprompt", USER_FILTER, *lab.attributes,
    ]  # fmt: skip
    counted = subprocess.run(argv, capture_output=True, check=True).stdout.count(b"\ndn: ")
    step.extra["entries"] = counted + 1
    for _ in range(runs):
        step.samples.append(plain(lab, argv))
    return step


def plain(lab: Lab, argv: list[str]) -> Sample:
    """A measured run of a command whose output is not needed."""
    return lab.measured(argv, stop_after_report=False, plain=True)


def startup(lab: Lab, runs: int) -> Step:
    """The fixed cost in every worker run: Python starting and importing the package."""
    step = Step("startup", "0. worker start-up (`python -m sync --help`)")
    for _ in range(runs):
        step.samples.append(plain(lab, [sys.executable, "-m", "sync", "--help"]))
    return step


def ceiling(lab: Lab, runs: int) -> Step:
    step = Step("ceiling", "2. bare ldap3 paged read")
    spec = json.dumps(
        {
            "url": lab.slapd.url,
            "user": SYNC_DN,
            "password": SYNC_PW,
            "base": people.PEOPLE,
            "filter": USER_FILTER,
            "attributes": lab.attributes,
        }
    )
    argv = [sys.executable, str(BENCH / "bench.py"), "--ldap3-read", spec]
    for _ in range(runs):
        sample = lab.worker(argv, stop_after_report=False)
        sample.extra = dict(sample.report or {})
        step.samples.append(sample)
    step.extra["entries"] = step.samples[0].extra.get("entries")
    return step


def sqlite_full(lab: Lab, runs: int, let_deliver: bool) -> tuple[Step, Path]:
    """Step 3; returns the first run's store for steps 4 and 5."""
    step = Step("full_sqlite", "3. sync --full, new SQLite store")
    kept: Path | None = None
    for number in range(runs):
        database = lab.workdir / f"full-{number}.db"
        config = lab.config(f"full-{number}", f"sqlite:///{database}")
        step.samples.append(lab.sync(config, "--full", let_deliver=let_deliver))
        if kept is None:
            kept = database
        else:
            remove_sqlite(database)
    assert kept is not None
    step.extra["report"] = summary(step.samples[0].report)
    check_full_report(step.extra["report"], lab.users)
    return step, kept


def check_full_report(report: dict[str, Any], users: int) -> None:
    """The full run must have done what the generated mix calls for, or the numbers measure
    something else."""
    created = missing = invalid = 0
    for p in people.people(users):
        if p.locked:
            continue  # inactive without an account: not counted
        if not p.mail:
            missing += 1
        elif "!" in p.mail:
            invalid += 1
        else:
            created += 1
    counts, reasons = report.get("counts", {}), report.get("issues_by_reason", {})
    expected = {"created": created, "emails_queued": created}
    found = {key: counts.get(key) for key in expected}
    wanted_reasons = {"missing_attribute": missing, "invalid_name": invalid}
    if found != expected or {k: reasons.get(k, 0) for k in wanted_reasons} != wanted_reasons:
        raise SystemExit(
            f"the full run's report does not match the generated directory: expected {expected} "
            f"and issues {wanted_reasons}, got {found} and {reasons}"
        )


def again(lab: Lab, runs: int, url: str, key: str, title: str) -> Step:
    """Step 4 (and its PostgreSQL twin): rows before and after each run are compared."""
    step = Step(key, title)
    config = lab.config(key, url)
    for _ in range(runs):
        before, activity = store_state(url), pg_row_activity(url)
        step.samples.append(lab.sync(config, "--full"))
        after = store_state(url)
        changes = {
            table: {"rows_before": before[table][0], "rows_after": after[table][0]}
            | ({"content_changed": True} if before[table][1] != after[table][1] else {})
            for table in before
        }
        step.extra.setdefault("row_checks", []).append(changes)
        if activity is not None:
            step.extra.setdefault("pg_tuples_written", []).append(
                _difference(activity, pg_row_activity(url, settle=True) or {})
            )
    step.extra["report"] = summary(step.samples[-1].report)
    return step


def _difference(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> Any:
    return {
        table: {k: after[table][k] - before.get(table, {}).get(k, 0) for k in after[table]}
        for table in after
        if any(after[table][k] - before.get(table, {}).get(k, 0) for k in after[table])
    }


def delta(lab: Lab, runs: int, store: Path) -> Step:
    """Step 5: before each run the store is put back as step 4 left it and the same 1% of the
    people get new values (a round of their own), so every run does the same work."""
    step = Step("delta_sqlite", "5. delta after 1% changed, SQLite")
    snapshot = lab.workdir / "after-again.db"
    copy_sqlite(store, snapshot)
    config = lab.config("delta", f"sqlite:///{store}")
    for number in range(runs):
        copy_sqlite(snapshot, store)
        changes, kinds = people.changes_ldif(lab.users, number + 1)
        apply_ldif(lab, changes)
        step.samples.append(lab.sync(config))
        step.extra.setdefault("changed", kinds)
        if step.samples[-1].report and step.samples[-1].report.get("full"):
            raise SystemExit("the delta step ran a full read: check full_sync_interval_hours")
    step.extra["report"] = summary(step.samples[-1].report)
    return step


def apply_ldif(lab: Lab, ldif: str) -> None:
    from tests.support.slapd import ROOT_DN, ROOT_PW

    path = lab.workdir / "changes.ldif"
    path.write_text(ldif, encoding="utf-8")
    subprocess.run(
        ["ldapmodify", "-x", "-H", lab.slapd.url, "-D", ROOT_DN, "-w", ROOT_PW, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def postgres(lab: Lab, runs: int, let_deliver: bool) -> list[Step]:
    """Step 6: 3 and 4 on PostgreSQL, a temporary database per full run."""
    if lab.pg_admin_url:
        os.environ["CLOMO_TEST_PG_ADMIN_URL"] = lab.pg_admin_url
    from tests.support.postgres import temporary_database

    full = Step("full_pg", "6. sync --full, new PostgreSQL database")
    with ExitStack() as stack:
        kept: str | None = None
        for number in range(runs):
            inner = ExitStack()
            url = inner.enter_context(temporary_database("clomo_bench"))
            config = lab.config(f"pg-full-{number}", url)
            full.samples.append(lab.sync(config, "--full", let_deliver=let_deliver))
            if kept is None:
                kept = url
                stack.push(inner)
            else:
                inner.close()
        full.extra["report"] = summary(full.samples[0].report)
        assert kept is not None
        repeat = again(lab, runs, kept, "again_pg", "6. sync --full again, no change, PostgreSQL")
    return [full, repeat]


def deliver(lab: Lab, runs: int) -> Step:
    """Step 7: a store with 10,000 queued emails (the first people, by change time), delivered
    by `deliver --flush` to the counting SMTP server; each run on a copy of that store."""
    step = Step("deliver", f"7. deliver --flush, {DELIVERY_EMAILS:,} emails")
    last = people_for_emails(DELIVERY_EMAILS, lab.users)
    moment = people.generalized(people.OLD_TIME + timedelta(minutes=last))
    user_filter = f"(&{USER_FILTER}(modifyTimestamp<={moment}))"
    queued = lab.workdir / "queued.db"
    config = lab.config("queued", f"sqlite:///{queued}", user_filter)
    report = lab.sync(config, "--full").report or {}
    step.extra["emails_queued"] = report.get("counts", {}).get("emails_queued")
    store = lab.workdir / "deliver.db"
    config = lab.config("deliver", f"sqlite:///{store}", user_filter)
    for _ in range(runs):
        copy_sqlite(queued, store)
        received, sink_cpu = lab.received.value, cpu_seconds(lab.smtp_pid)
        argv = [sys.executable, "-m", "sync", "--config", str(config), "deliver", "--flush"]
        sample = lab.worker([*argv, "--json"], stop_after_report=False)
        outcome = sample.report or {}
        sample.extra = {
            "sent": outcome.get("sent"),
            "received": lab.received.value - received,
            "smtp_server_cpu_s": round(cpu_seconds(lab.smtp_pid) - sink_cpu, 2),
        }
        step.samples.append(sample)
    step.extra["per_run"] = [s.extra for s in step.samples]
    return step


def people_for_emails(emails: int, users: int) -> int:
    """The index of the last person needed for `emails` account_created emails (every active
    person with an address the name pattern accepts gets one)."""
    sent = 0
    for p in people.people(users):
        if p.mail and not p.locked and "!" not in p.mail:
            sent += 1
        if sent >= emails:
            return p.index
    return users


def summary(report: dict[str, Any] | None) -> dict[str, Any]:
    """A report without its long list of issues: their count by reason instead."""
    if not report:
        return {}
    reasons: dict[str, int] = {}
    for issue in report.get("issues", ()):
        reasons[issue["reason"]] = reasons.get(issue["reason"], 0) + 1
    kept = {k: v for k, v in report.items() if k not in ("issues", "run_id")}
    return {**kept, "issues_by_reason": reasons}


# ---------------------------------------------------------------------------------------------
# verdicts and the table


@dataclass
class Verdict:
    target: str
    measured: str
    passed: bool


def verdicts(steps: dict[str, Step], users: int, scaling: dict[str, Any] | None) -> list[Verdict]:
    out: list[Verdict] = []
    floor_s, ceiling_s = steps["floor"].wall, steps["ceiling"].wall

    def ratio(key: str, base: float, limit: float, name: str) -> None:
        if key in steps:
            value = steps[key].wall / base
            out.append(Verdict(f"{key} <= {limit}x {name}", f"{value:.2f}x", value <= limit))

    for full in ("full_sqlite", "full_pg"):
        ratio(full, ceiling_s, 1.3, "ldap3")
        ratio(full, floor_s, 12, "ldapsearch")
    for repeat in ("again_sqlite", "again_pg"):
        ratio(repeat, ceiling_s, 1.2, "ldap3")
        if repeat in steps:
            written = rows_written(steps[repeat])
            out.append(Verdict(f"{repeat} writes no row", written or "none", not written))
    if "delta_sqlite" in steps:
        value = steps["delta_sqlite"].wall / steps["full_sqlite"].wall
        out.append(Verdict("delta <= 0.15x full (SQLite)", f"{value:.3f}x", value <= 0.15))
    for key, step in steps.items():
        if key not in ("floor", "ceiling", "startup"):
            mb = step.peak_mb
            out.append(Verdict(f"{key} peak RSS <= 200 MB", f"{mb:.0f} MB", mb <= 200))
    if scaling:
        for key in ("full_sqlite", "again_sqlite"):
            small = scaling["us_per_user"].get(key)
            if small and key in steps:
                value = steps[key].wall * 1e6 / users / small
                name = f"{key} us/user at {users} <= 1.2x at {scaling['users']}"
                out.append(Verdict(name, f"{value:.2f}x", value <= 1.2))
    if "deliver" in steps:
        step = steps["deliver"]
        sent = statistics.median(s.extra.get("received", 0) for s in step.samples)
        rate = sent / step.wall
        out.append(Verdict("deliver >= 200 messages/s", f"{rate:.0f}/s ({sent:.0f})", rate >= 200))
    return out


def rows_written(step: Step) -> str:
    """Tables whose rows changed in any run, but the run record and the sync state every run
    writes by design (counted apart)."""
    changed = set()
    for check in step.extra.get("row_checks", ()):
        for table, state in check.items():
            if table in ("runs", "sync_state"):
                continue
            if state["rows_before"] != state["rows_after"] or state.get("content_changed"):
                changed.add(table)
    return ", ".join(sorted(changed))


def table(steps: dict[str, Step], users: int) -> str:
    floor_s, ceiling_s = steps["floor"].wall, steps["ceiling"].wall
    head = (
        "| step | median wall s | µs/user | peak RSS MB | its CPU s | slapd CPU s "
        "| other CPU s | × ldapsearch | × ldap3 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for step in steps.values():
        per_user = step.wall * 1e6 / users
        rows.append(
            f"| {step.title} | {step.wall:.2f} | {per_user:.1f} | {step.peak_mb:.0f} "
            f"| {step.cpu:.2f} | {step.slapd_cpu:.2f} | {step.rest_cpu:.2f} "
            f"| {step.wall / floor_s:.2f} "
            f"| {step.wall / ceiling_s:.2f} |"
        )
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
# main


def main() -> None:
    if sys.argv[1:2] == ["--ldap3-read"]:
        ldap3_read(json.loads(sys.argv[2]))
        return
    if sys.argv[1:2] == ["--profile-run"]:
        from profiling import profile_run

        profile_run(sys.argv[2:])
        return
    args = parse_args()
    OUT.mkdir(exist_ok=True)
    results = run(args)
    path = OUT / f"bench-{args.users}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nresults: {path}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="administrative URL of a PostgreSQL server where temporary databases are created "
        "[default: $CLOMO_TEST_PG_ADMIN_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/]",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--scaling-users",
        type=int,
        default=10_000,
        help="also time steps 3 and 4 at this size, for the per-user scaling target (0: skip)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=60,
        metavar="SECONDS",
        help="before each measured run, wait up to this long for the rest of the machine to "
        "fall quiet (under a quarter of a CPU); the load found is recorded (0: don't wait)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile steps 3 and 4 (cProfile)"
    )
    parser.add_argument(
        "--let-deliver",
        action="store_true",
        help="let the full runs deliver their email (the table still times them to the report)",
    )
    return parser.parse_args()


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(UTC)
    results: dict[str, Any] = {"users": args.users, "runs": args.runs, "machine": machine()}
    scaling = None
    if args.scaling_users and args.scaling_users != args.users:
        scaling = scaling_run(args.scaling_users, args.runs, args.settle)
        results["scaling"] = scaling
    with (
        tempfile.TemporaryDirectory(prefix="clomo-bench-") as tmp,
        lab(args.users, args.postgres_url, Path(tmp), args.settle) as the_lab,
    ):
        steps = measure_all(the_lab, args)
        results["attributes"] = the_lab.attributes
        results["attributes_in_slapd_log"] = logged_attributes(the_lab.slapd.log_text)
        if args.profile:
            from profiling import profile_steps

            results["profile"] = profile_steps(the_lab, not args.skip_postgres)
    results["started_at"] = started.isoformat(timespec="seconds")
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["steps"] = {key: step_json(step, args.users) for key, step in steps.items()}
    found = verdicts(steps, args.users, scaling)
    results["targets"] = [asdict(v) for v in found]
    print()
    print(table(steps, args.users))
    print()
    for verdict in found:
        mark = "PASS" if verdict.passed else "FAIL"
        print(f"{mark}  {verdict.target}: {verdict.measured}")
    results["table"] = table(steps, args.users)
    return results


def measure_all(the_lab: Lab, args: argparse.Namespace) -> dict[str, Step]:
    steps: dict[str, Step] = {}

    def timed(name: str, action: Callable[[], Any]) -> Any:
        the_lab.log(f"{name} ...")
        value = action()
        the_lab.log(f"{name} done")
        return value

    steps["startup"] = timed("0. start-up", lambda: startup(the_lab, args.runs))
    steps["floor"] = timed("1. ldapsearch", lambda: floor(the_lab, args.runs))
    steps["ceiling"] = timed("2. ldap3", lambda: ceiling(the_lab, args.runs))
    full, store = timed("3. full SQLite", lambda: sqlite_full(the_lab, args.runs, args.let_deliver))
    steps["full_sqlite"] = full
    steps["again_sqlite"] = timed(
        "4. again SQLite",
        lambda: again(
            the_lab,
            args.runs,
            f"sqlite:///{store}",
            "again_sqlite",
            "4. sync --full again, no change",
        ),
    )
    if not args.skip_postgres:
        for step in timed("6. PostgreSQL", lambda: postgres(the_lab, args.runs, args.let_deliver)):
            steps[step.key] = step
    steps["deliver"] = timed("7. deliver", lambda: deliver(the_lab, args.runs))
    steps["delta_sqlite"] = timed("5. delta", lambda: delta(the_lab, args.runs, store))
    return steps


def step_json(step: Step, users: int) -> dict[str, Any]:
    return {
        "title": step.title,
        "median_wall_s": round(step.wall, 3),
        "us_per_user": round(step.wall * 1e6 / users, 1),
        "peak_rss_mb": round(step.peak_mb, 1),
        "median_worker_cpu_s": round(step.cpu, 2),
        "median_slapd_cpu_s": round(step.slapd_cpu, 2),
        "median_other_cpu_s": round(step.rest_cpu, 2),
        "samples": [s.as_json() for s in step.samples],
        **step.extra,
    }


def scaling_run(users: int, runs: int, settle: float) -> dict[str, Any]:
    """Steps 3 and 4 at a smaller size, in a lab of their own, for the per-user comparison."""
    with (
        tempfile.TemporaryDirectory(prefix="clomo-bench-scaling-") as tmp,
        lab(users, None, Path(tmp), settle) as small,
    ):
        small.log(f"scaling: steps 3 and 4 at {users} users")
        full, store = sqlite_full(small, runs, let_deliver=False)
        repeat = again(small, runs, f"sqlite:///{store}", "again_sqlite", "4")
    return {
        "users": users,
        "us_per_user": {
            "full_sqlite": full.wall * 1e6 / users,
            "again_sqlite": repeat.wall * 1e6 / users,
        },
        "median_wall_s": {"full_sqlite": full.wall, "again_sqlite": repeat.wall},
        "peak_rss_mb": {"full_sqlite": full.peak_mb, "again_sqlite": repeat.peak_mb},
    }


def logged_attributes(log_text: str) -> list[list[str]]:
    """The distinct attribute lists searches asked slapd for (its stats log)."""
    seen: list[list[str]] = []
    for line in log_text.splitlines():
        if " SRCH attr=" in line:
            names = sorted(line.split(" SRCH attr=", 1)[1].split(), key=str.lower)
            if names not in seen:
                seen.append(names)
    return seen


def ldap3_read(spec: dict[str, Any]) -> None:
    """Step 2, in its own process: ldap3's paged search of the same attributes, each entry's
    raw values touched, and nothing else."""
    from ldap3 import NONE, SUBTREE, Connection, Server

    started = time.perf_counter()
    conn = Connection(
        Server(spec["url"], get_info=NONE), spec["user"], spec["password"], read_only=True
    )
    conn.bind()
    entries = values = 0
    cookie: bytes | None = None
    while True:
        conn.search(
            spec["base"],
            spec["filter"],
            SUBTREE,
            attributes=spec["attributes"],
            paged_size=1000,
            paged_cookie=cookie,
        )
        for item in conn.response or ():
            if item.get("type") == "searchResEntry":
                entries += 1
                values += sum(len(v) for v in item["raw_attributes"].values())
        control = (conn.result.get("controls") or {}).get("1.2.840.113556.1.4.319")
        cookie = control["value"]["cookie"] if control else None
        if not cookie:
            break
    conn.unbind()
    seconds = time.perf_counter() - started
    print(json.dumps({"entries": entries, "values": values, "read_seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
