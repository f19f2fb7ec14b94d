"""Measuring one process (wall time, peak memory, CPU), the machine, and a store's rows."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KIB = 1024
MB = 1_000_000  # memory is reported in MB of 10^6 bytes, as the 200 MB target


@dataclass
class Sample:
    """One run of one process.

    `wall` runs from the spawn to the JSON report the process prints (to its exit if it prints
    none); `peak_rss_mb` is its VmHWM at that moment (read while the process is frozen) plus the
    peaks of the processes it started (the LDAP reader), as if all had peaked at once. A worker
    stopped after its report has `stopped` set; `total_s`/`total_peak_rss_mb` cover the process
    to its end either way. (Not ru_maxrss: for a child, Linux counts the parent's resident set at
    the fork in it.)

    CPU is accounted for the whole machine: the process's own, slapd's, the SMTP server's, the
    PostgreSQL backends serving it, and the bench's; `background_cpu` is the rest, i.e. other
    people's work on this machine while the sample ran, which makes a sample suspect."""

    wall: float
    total_s: float
    peak_rss_mb: float
    total_peak_rss_mb: float
    cpu: float
    context_switches: tuple[int, int]  # (voluntary: waited; involuntary: preempted)
    exit_code: int
    report: dict[str, Any] | None
    stderr_tail: str
    stopped: bool
    slapd_cpu: float = 0.0
    smtp_cpu: float = 0.0
    pg_cpu: float = 0.0
    background_cpu: float = 0.0
    descendant_peaks_mb: list[float] = field(default_factory=list)  # the reader process's, say
    background_before: float = 0.0  # CPUs the rest of the machine used just before the run
    load_before: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def background_cores(self) -> float:
        """How many CPUs other people's work took, on average, while this sample ran."""
        return self.background_cpu / self.wall if self.wall else 0.0

    def as_json(self) -> dict[str, Any]:
        report = self.report or {}
        source = report.get("source") if isinstance(report.get("source"), dict) else None
        return {
            "wall_s": round(self.wall, 3),
            "total_s": round(self.total_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "total_peak_rss_mb": round(self.total_peak_rss_mb, 1),
            "descendant_peaks_mb": [round(mb, 1) for mb in self.descendant_peaks_mb],
            "cpu_s": round(self.cpu, 2),
            "slapd_cpu_s": round(self.slapd_cpu, 2),
            "smtp_server_cpu_s": round(self.smtp_cpu, 2),
            "postgres_backends_cpu_s": round(self.pg_cpu, 2),
            "background_cpu_s": round(self.background_cpu, 2),
            "background_cores_during": round(self.background_cores, 2),
            "background_cores_before": round(self.background_before, 2),
            "load_before": round(self.load_before, 2),
            "context_switches_voluntary": self.context_switches[0],
            "context_switches_involuntary": self.context_switches[1],
            "exit_code": self.exit_code,
            "stopped_after_report": self.stopped,
            **({"counts": report["counts"]} if "counts" in report else {}),
            **({"users_read": source["users_read"]} if source else {}),
            **self.extra,
        }


def run_child(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    *,
    stop_after_report: bool,
    stdout_null: bool = False,
    slapd_pid: int | None = None,
    smtp_pid: int | None = None,
    at_report: Callable[[], float] | None = None,
) -> Sample:
    """Runs `argv`; the first stdout line starting with `{` is its report. With
    `stop_after_report` the process is frozen (SIGSTOP) the moment that line arrives, its peak
    memory read, and killed, so what it would do next does not count. `at_report`, called while
    it is frozen, returns the CPU its PostgreSQL backends used."""
    busy, own = machine_busy_seconds(), _own_cpu()
    slapd, smtp = cpu_seconds(slapd_pid), cpu_seconds(smtp_pid)
    pg_cpu = 0.0
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL if stdout_null else subprocess.PIPE,
            stderr=errors,
            env=env,
            cwd=cwd,
        )
        poller = PeakPoller(proc.pid)
        report, wall, hwm, stopped = None, None, None, False
        if proc.stdout is not None:
            for line in proc.stdout:
                if report is not None or not line.startswith(b"{"):
                    continue
                wall = time.perf_counter() - started
                if stop_after_report:
                    os.kill(proc.pid, signal.SIGSTOP)
                hwm = vm_hwm_kib(proc.pid)
                if hwm is not None:  # its reader process (gone by now) counts too
                    hwm += poller.descendants_peak
                report = json.loads(line)
                pg_cpu = at_report() if at_report else 0.0
                if stop_after_report:
                    os.kill(proc.pid, signal.SIGKILL)
                    stopped = True
                    break
        total_peak = poller.finish() + poller.descendants_peak
        _pid, status, usage = os.wait4(proc.pid, 0)
        total = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.stdout is not None:
            proc.stdout.close()
        errors.seek(0)
        tail = errors.read()[-3000:].decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    slapd, smtp = cpu_seconds(slapd_pid) - slapd, cpu_seconds(smtp_pid) - smtp
    ours = cpu + slapd + smtp + pg_cpu + (_own_cpu() - own)
    total_peak = max(total_peak, hwm or 0)
    return Sample(
        wall=wall if wall is not None else total,
        total_s=total,
        peak_rss_mb=(hwm if hwm is not None else total_peak) * KIB / MB,
        total_peak_rss_mb=total_peak * KIB / MB,
        cpu=cpu,
        context_switches=(usage.ru_nvcsw, usage.ru_nivcsw),
        exit_code=proc.returncode,
        report=report,
        stderr_tail=tail,
        stopped=stopped,
        slapd_cpu=slapd,
        smtp_cpu=smtp,
        pg_cpu=pg_cpu,
        background_cpu=max(0.0, machine_busy_seconds() - busy - ours),
        descendant_peaks_mb=[kib * KIB / MB for kib in poller.descendant_peaks.values()],
    )


def _own_cpu() -> float:
    """The bench process's own CPU (reading the worker's output, polling its memory)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pg_backends_cpu(url: str) -> float:
    """CPU used so far by the backends connected to `url`'s database, other than this one: the
    worker's, when called while it is frozen at its report."""
    pids = _pg_query(
        url,
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return sum(cpu_seconds(int(pid)) for (pid,) in pids)


def _pg_query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query, on a connection of its own (closed at once)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


class PeakPoller:
    """Reads a process's VmHWM, and its descendants' (the worker's LDAP reader process), every
    few milliseconds until it ends (VmHWM only grows, so the last reading is a peak but for what
    happened in the last few milliseconds)."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self.descendant_peaks: dict[int, int] = {}
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        # The last reading of each process, not the largest: between its fork (vfork) and its
        # exec a child shares its parent's memory, and a reading in that window shows the
        # parent's peak; exec starts a new VmHWM, which then only grows.
        while True:
            value = vm_hwm_kib(self.pid)
            if value is None:  # exited (a zombie has no memory left to read)
                return
            self.peak = value
            for child in descendants(self.pid):
                found = vm_hwm_kib(child)
                if found is not None:
                    self.descendant_peaks[child] = found
            time.sleep(self.interval)

    @property
    def descendants_peak(self) -> int:
        """The descendants' peaks added up (KiB): an upper bound of what they held at once."""
        return sum(self.descendant_peaks.values())

    def finish(self) -> int:
        """Call before reaping the process; waits for it to exit unless it already has."""
        self.thread.join()
        return self.peak


def descendants(pid: int) -> list[int]:
    """The process's children, theirs, and so on (/proc/PID/task/TID/children)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Waits (up to `max_wait` seconds) until the rest of the machine uses at most `threshold`
    of a CPU over a second; returns what it used in the last second measured."""
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        cores = machine_busy_seconds() - before
        if cores <= threshold or time.monotonic() >= deadline:
            return cores


def machine_busy_seconds() -> float:
    """CPU time this machine's processors were busy since boot, or taken from it by the
    hypervisor for other machines (/proc/stat: user, nice, system, irq, softirq, steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kib(pid: int) -> int | None:
    """The process's peak resident set so far (kernel's VmHWM, KiB)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None  # a zombie has no VmHWM line


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU a running process has used (e.g. slapd's, around a step)."""
    if pid is None:
        return 0.0
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return os.getloadavg()[0]


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    slapd = subprocess.run(["/usr/sbin/slapd", "-VV"], capture_output=True, text=True)
    import ldap3
    import sqlalchemy

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "slapd": (slapd.stderr or slapd.stdout).strip().splitlines()[0:1],
        "ldap3": ldap3.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ---------------------------------------------------------------------------------------------
# a store's rows, to show that a run wrote nothing

TABLES = ("accounts", "outbox", "reset_tokens", "released_names", "sync_state", "runs")


def store_state(url: str) -> dict[str, tuple[int, str]]:
    """For each table: (rows, a hash of every row's values), read in primary-key order."""
    from sqlalchemy import create_engine, select

    from sync.store.schema import metadata

    engine = create_engine(url)
    state: dict[str, tuple[int, str]] = {}
    try:
        with engine.connect() as conn:
            for name in TABLES:
                table = metadata.tables[name]
                digest, rows = hashlib.sha256(), 0
                query = select(table).order_by(*table.primary_key.columns)
                for row in conn.execute(query):
                    digest.update(repr(tuple(row)).encode())
                    rows += 1
                state[name] = (rows, digest.hexdigest())
    finally:
        engine.dispose()
    return state


def pg_row_activity(url: str, settle: bool = False) -> dict[str, dict[str, int]] | None:
    """PostgreSQL's own count of rows inserted, updated and deleted per table (None on SQLite).
    A backend reports its counts when it ends; `settle` waits for the worker's to have ended."""
    if not url.startswith("postgresql"):
        return None
    if settle:
        time.sleep(1.5)
    rows = _pg_query(
        url,
        "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
        "WHERE relname <> 'alembic_version'",
    )
    return {r[0]: {"ins": r[1], "upd": r[2], "del": r[3]} for r in rows}


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite store a killed worker may have left with a WAL: the WAL is
    folded into the file first, and the target's own WAL removed so it cannot be replayed."""
    conn = sqlite3.connect(source)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    remove_sqlite(target)
    target.write_bytes(source.read_bytes())


def remove_sqlite(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


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
