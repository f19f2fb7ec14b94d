"""The bench's lab: a private slapd holding the generated directory, a local SMTP server that only
counts, configuration files, and measured runs that are repeated when someone else's work on the
machine got in the way."""

from __future__ import annotations

import multiprocessing
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import people
from measure import Sample, load_average, pg_backends_cpu, run_child, wait_for_quiet

from sync.model import PROFILE_ATTRIBUTES

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TENANT = "bench"
PASSWORD_ENV = "BENCH_LDAP_PASSWORD"
SYNC_DN = f"cn=sync,{people.SUFFIX}"
SYNC_PW = "sync-password"
USER_FILTER = "(objectClass=inetOrgPerson)"
# the profile attributes every run reads; the naming rule (email_local_part) needs
# primary_email, one of them
PROFILE = PROFILE_ATTRIBUTES


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@dataclass
class Step:
    key: str
    title: str
    samples: list[Sample] = field(default_factory=list)
    discarded: list[Sample] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def median(self, value: Callable[[Sample], float]) -> float:
        return statistics.median(value(s) for s in self.samples)

    @property
    def wall(self) -> float:
        return self.median(lambda s: s.wall)

    @property
    def cpu(self) -> float:
        return self.median(lambda s: s.cpu)

    @property
    def peak_mb(self) -> float:
        return max(s.peak_rss_mb for s in self.samples)


@dataclass(frozen=True)
class Policy:
    """When a sample counts: `settle` seconds at most are spent waiting for a quiet machine before
    each run; a run during which other work took more than `max_background` CPUs on average
    (and more than 0.1 s in all) is run again, `retries` times at most (the last attempt counts
    whatever happened)."""

    settle: float = 60.0
    max_background: float = 0.3
    retries: int = 2


@dataclass
class Lab:
    workdir: Path
    users: int
    slapd: Any
    smtp_port: int
    smtp_pid: int
    received: Any  # a shared counter of the messages the SMTP server accepted
    attributes: list[str]
    policy: Policy = Policy()
    # the LDAP client of the runs: "libldap" (the default where python-ldap is installed) or
    # "ldap3" (set through CLOMO_LDAP_CLIENT, sync.sources.ldap.libldap)
    client: str = "libldap"

    def env(self) -> dict[str, str]:
        env = {**os.environ, PASSWORD_ENV: SYNC_PW, "PYTHONPATH": str(ROOT)}
        env["CLOMO_LDAP_CLIENT"] = self.client
        return env

    @property
    def slapd_pid(self) -> int:
        return int(self.slapd.process.pid)

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

    def repeat(self, step: Step, runs: int, one: Callable[[int], Sample]) -> None:
        """`runs` samples of `one(number)`, which prepares its run and measures it; a sample that
        other work on the machine disturbed is taken again (see Policy)."""
        for number in range(runs):
            for attempt in range(self.policy.retries + 1):
                sample = one(number)
                last = attempt == self.policy.retries
                # a tenth of a second of slack: clock ticks are 10 ms, and short runs are short
                allowed = self.policy.max_background * sample.wall + 0.1
                if sample.background_cpu <= allowed or last:
                    step.samples.append(sample)
                    break
                step.discarded.append(sample)
                log(
                    f"  {step.key} run {number + 1}: others used "
                    f"{sample.background_cores:.2f} CPUs meanwhile; running it again"
                )

    def sync(
        self, config: Path, database_url: str, *args: str, let_deliver: bool = False
    ) -> Sample:
        """One measured `clomo-sync sync` of the bench tenant (to its report, unless
        `let_deliver`); a run that did not succeed stops the bench."""
        argv = [sys.executable, "-m", "sync", "--config", str(config), "sync", "--tenant", TENANT]
        at_report = None
        if database_url.startswith("postgresql"):
            at_report = lambda: pg_backends_cpu(database_url)  # noqa: E731
        sample = self.measured([*argv, "--json", *args], not let_deliver, at_report=at_report)
        status = (sample.report or {}).get("status")
        if status != "succeeded":
            raise SystemExit(f"the worker's run did not succeed ({status}): {sample.stderr_tail}")
        return sample

    def measured(
        self,
        argv: list[str],
        stop_after_report: bool,
        *,
        plain: bool = False,
        at_report: Callable[[], float] | None = None,
    ) -> Sample:
        """One run of `argv`, after waiting for a quiet machine."""
        before = wait_for_quiet(self.policy.settle) if self.policy.settle else 0.0
        load = load_average()
        sample = run_child(
            argv,
            self.env(),
            ROOT,
            stop_after_report=stop_after_report,
            stdout_null=plain,
            slapd_pid=self.slapd_pid,
            smtp_pid=self.smtp_pid,
            at_report=at_report,
        )
        sample.load_before, sample.background_before = load, before
        if sample.exit_code != 0 and not sample.stopped:
            raise SystemExit(f"{argv[:4]} failed ({sample.exit_code}): {sample.stderr_tail}")
        return sample


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


@contextmanager
def lab(users: int, workdir: Path, policy: Policy) -> Iterator[Lab]:
    """Generates `users` people, loads them into a slapd of its own, starts the SMTP server."""
    from tests.support.slapd import Slapd, free_port

    server = Slapd(workdir / "slapd", debug_level=256)  # 256: slapd.log names the attributes
    ldif = workdir / "people.ldif"
    started = time.monotonic()
    with ldif.open("w", encoding="utf-8") as handle:
        handle.writelines(people.directory_ldif(users, SYNC_DN, SYNC_PW))
    log(f"generated {users} people in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    server.load(ldif)
    log(f"loaded them with slapadd in {time.monotonic() - started:.1f} s")
    server.start()
    port, received, ready = free_port(), multiprocessing.Value("q", 0), multiprocessing.Event()
    sink = multiprocessing.Process(target=smtp_sink, args=(port, received, ready), daemon=True)
    sink.start()
    try:
        if not ready.wait(30) or sink.pid is None:
            raise SystemExit("the local SMTP server did not start")
        yield Lab(workdir, users, server, port, sink.pid, received, sync_attributes(), policy)
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


def logged_attributes(log_text: str) -> list[list[str]]:
    """The distinct attribute lists searches asked slapd for (its stats log)."""
    seen: list[list[str]] = []
    for line in log_text.splitlines():
        if " SRCH attr=" in line:
            names = sorted(line.split(" SRCH attr=", 1)[1].split(), key=str.lower)
            if names not in seen:
                seen.append(names)
    return seen
