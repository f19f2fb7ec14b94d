"""The measured steps of issue 8, each `runs` samples of one command (see bench.py)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import people
from lab import BENCH, SYNC_DN, SYNC_PW, USER_FILTER, Lab, Step
from measure import Sample, copy_sqlite, pg_row_activity, remove_sqlite, store_state

DELIVERY_EMAILS = 10_000


def startup(lab: Lab, runs: int) -> Step:
    """The fixed cost in every worker run: Python starting and importing the package."""
    step = Step("startup", "0. worker start-up (`python -m sync --help`)")
    argv = [sys.executable, "-m", "sync", "--help"]
    lab.repeat(step, runs, lambda _n: lab.measured(argv, False, plain=True))
    return step


def floor(lab: Lab, runs: int) -> Step:
    step = Step("floor", "1. `ldapsearch -E pr=1000/noprompt`")
    argv = [
        "ldapsearch", "-x", "-LLL", "-H", lab.slapd.url, "-D", SYNC_DN, "-w", SYNC_PW,
        "-b", people.PEOPLE, "-E", "pr=1000/noprompt", USER_FILTER, *lab.attributes,
    ]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, check=True).stdout
    step.extra["entries"] = output.count(b"\ndn: ") + output.startswith(b"dn: ")
    lab.repeat(step, runs, lambda _n: lab.measured(argv, False, plain=True))
    return step


def ldap3_spec(lab: Lab) -> str:
    import json

    spec = {
        "url": lab.slapd.url,
        "user": SYNC_DN,
        "password": SYNC_PW,
        "base": people.PEOPLE,
        "filter": USER_FILTER,
        "attributes": lab.attributes,
    }
    return json.dumps(spec)


def ceiling(lab: Lab, runs: int) -> Step:
    step = Step("ceiling", "2. bare ldap3 paged read")
    argv = [sys.executable, str(BENCH / "bench.py"), "--ldap3-read", ldap3_spec(lab)]

    def one(_number: int) -> Sample:
        sample = lab.measured(argv, False)
        sample.extra = dict(sample.report or {})
        return sample

    lab.repeat(step, runs, one)
    step.extra["entries"] = step.samples[0].extra.get("entries")
    return step


def full_sqlite(lab: Lab, runs: int, let_deliver: bool) -> tuple[Step, Path]:
    """Step 3, each run into a new store; returns the first run's for steps 4 and 5."""
    step = Step("full_sqlite", "3. `sync --full`, new SQLite store")

    def one(number: int) -> Sample:
        database = lab.workdir / f"full-{lab.client}-{number}.db"
        remove_sqlite(database)
        url = f"sqlite:///{database}"
        sample = lab.sync(lab.config(f"full-{number}", url), url, "--full", let_deliver=let_deliver)
        if number:
            remove_sqlite(database)
        return sample

    lab.repeat(step, runs, one)
    step.extra["report"] = summary(step.samples[0].report)
    check_full_report(step.extra["report"], lab.users)
    return step, lab.workdir / f"full-{lab.client}-0.db"


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
    """Step 4 (and its PostgreSQL twin): every table's rows are counted and hashed before and
    after each run; on PostgreSQL its own count of rows written is read too."""
    step = Step(key, title)
    config = lab.config(key, url)

    def one(_number: int) -> Sample:
        before, activity = store_state(url), pg_row_activity(url)
        sample = lab.sync(config, url, "--full")
        after = store_state(url)
        sample.extra["row_checks"] = {
            table: {"rows_before": before[table][0], "rows_after": after[table][0]}
            | ({"content_changed": True} if before[table][1] != after[table][1] else {})
            for table in before
        }
        if activity is not None:
            written = _difference(activity, pg_row_activity(url, settle=True) or {})
            sample.extra["pg_tuples_written"] = written
        return sample

    lab.repeat(step, runs, one)
    step.extra["report"] = summary(step.samples[-1].report)
    return step


def _difference(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> Any:
    return {
        table: {k: after[table][k] - before.get(table, {}).get(k, 0) for k in after[table]}
        for table in after
        if any(after[table][k] - before.get(table, {}).get(k, 0) for k in after[table])
    }


def rows_written(step: Step) -> str:
    """Tables whose rows changed in any run, but the run record and the sync state every run
    writes by design (reported apart)."""
    changed = set()
    for sample in step.samples:
        for table, state in sample.extra.get("row_checks", {}).items():
            if table in ("runs", "sync_state"):
                continue
            if state["rows_before"] != state["rows_after"] or state.get("content_changed"):
                changed.add(table)
    return ", ".join(sorted(changed))


def delta(lab: Lab, runs: int, store: Path) -> Step:
    """Step 5: before each run the store is put back as step 4 left it and the same 1% of the
    people get new values (a round of their own), so every run does the same work."""
    step = Step("delta_sqlite", "5. delta after 1% changed, SQLite")
    snapshot = lab.workdir / f"after-again-{lab.client}.db"
    copy_sqlite(store, snapshot)
    url = f"sqlite:///{store}"
    config = lab.config("delta", url)
    rounds = iter(range(1, 1000))

    def one(_number: int) -> Sample:
        copy_sqlite(snapshot, store)
        changes, kinds = people.changes_ldif(lab.users, next(rounds))
        apply_ldif(lab, changes)
        sample = lab.sync(config, url)
        sample.extra["changed"] = kinds
        if (sample.report or {}).get("full"):
            raise SystemExit("the delta step ran a full read: check full_sync_interval_hours")
        return sample

    lab.repeat(step, runs, one)
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
    """Step 6: 3 and 4 on PostgreSQL, a temporary database per full run; the first run's
    database is kept for the runs without change."""
    from tests.support.postgres import temporary_database

    full = Step("full_pg", "6. `sync --full`, new PostgreSQL database")
    databases: dict[int, tuple[ExitStack, str]] = {}

    def one(number: int) -> Sample:
        if number in databases:  # a disturbed attempt: its database goes
            databases.pop(number)[0].close()
        stack = ExitStack()
        url = stack.enter_context(temporary_database("clomo_bench"))
        databases[number] = (stack, url)
        config = lab.config(f"pg-full-{number}", url)
        sample = lab.sync(config, url, "--full", let_deliver=let_deliver)
        if number:
            databases.pop(number)[0].close()
        return sample

    try:
        lab.repeat(full, runs, one)
        full.extra["report"] = summary(full.samples[0].report)
        check_full_report(full.extra["report"], lab.users)
        title = "6. `sync --full` again, no change, PostgreSQL"
        repeat = again(lab, runs, databases[0][1], "again_pg", title)
    finally:
        for stack, _url in databases.values():
            stack.close()
    return [full, repeat]


def deliver(lab: Lab, runs: int) -> Step:
    """Step 7: a store with 10,000 queued emails (the first people, by change time), delivered
    by `deliver --flush` to the counting SMTP server; each run on a copy of that store."""
    step = Step("deliver", f"7. `deliver --flush`, {DELIVERY_EMAILS:,} emails")
    last = people_for_emails(DELIVERY_EMAILS, lab.users)
    moment = people.generalized(people.OLD_TIME + timedelta(minutes=last))
    user_filter = f"(&{USER_FILTER}(modifyTimestamp<={moment}))"
    queued = lab.workdir / "queued.db"
    url = f"sqlite:///{queued}"
    report = lab.sync(lab.config("queued", url, user_filter), url, "--full").report or {}
    step.extra["emails_queued"] = report.get("counts", {}).get("emails_queued")
    store = lab.workdir / "deliver.db"
    config = lab.config("deliver", f"sqlite:///{store}", user_filter)
    argv = [sys.executable, "-m", "sync", "--config", str(config), "deliver", "--flush", "--json"]

    def one(_number: int) -> Sample:
        copy_sqlite(queued, store)
        received = lab.received.value
        sample = lab.measured(argv, False)
        outcome = sample.report or {}
        sample.extra = {"sent": outcome.get("sent"), "received": lab.received.value - received}
        return sample

    lab.repeat(step, runs, one)
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
