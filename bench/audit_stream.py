"""The audit stream at 100,000 accounts (SPEC §19): how soon a first run's events reach a syslog
receiver, and what streaming costs the run.

    python bench/audit_stream.py [--users 100000] [--runs 3] [--postgres-url URL]

Each round makes a new store and a CSV directory of `--users` people (`saml` accounts: no
email, so the run is the accounts and their audit), and times `clomo-sync sync` from its start
to its exit, alternately:

  off  nothing streams;
  on   a `clomo-sync scheduler` (tenant never due) streams to a syslog receiver in this process
       (TCP, octet-counted RFC 5424 frames, read and counted as they come).

The run's own CPU time is taken too: on this shared machine it moves less than the wall clock.
For "on" it also takes the time from the run's exit until the receiver holds every `created`
event (target: ≤ 60 s), and checks they came in id order, none missing. Prints medians of
`--runs` rounds (target: "on" ≤ 5 % slower than "off"); writes bench/out/audit-stream-N.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import signal
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
sys.path[:0] = [str(REPO), str(BENCH)]

from measure import cpu_seconds  # noqa: E402

FRAME = re.compile(rb"<\d+>1 \S+ \S+ clomo-sync \S+ (\S+) - \xef\xbb\xbf(.*)", re.DOTALL)


class Receiver:
    """Counts `created` events as they arrive and keeps their ids in arrival order."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.created = 0
        self.last_arrival = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                receiver.read(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def read(self, conn: Any) -> None:
        buffer = b""
        while chunk := conn.recv(1 << 16):
            buffer += chunk
            while b" " in buffer[:12]:
                space = buffer.index(b" ")
                end = space + 1 + int(buffer[:space])
                if len(buffer) < end:
                    break
                match = FRAME.fullmatch(buffer[space + 1 : end])
                buffer = buffer[end:]
                assert match is not None, "a frame that is not RFC 5424"
                with self.lock:
                    self.ids.append(json.loads(match[2])["id"])
                    self.created += match[1] == b"created"
                    self.last_arrival = time.monotonic()

    def reset(self) -> None:
        with self.lock:
            self.ids, self.created, self.last_arrival = [], 0, 0.0


def write_directory(path: Path, users: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["source_id", "primary_email", "employee_code", "given_name",
                      "family_name", "display_name", "active", "emails", "groups"])  # fmt: skip
        for n in range(users):
            out.writerow([f"u-{n:06d}", f"user{n}@example.com", f"E{n:06d}", f"Given{n}",
                          f"Family{n}", f"User {n}", "true", "", ""])  # fmt: skip


def write_config(root: Path, url: str, receiver: Receiver | None) -> Path:
    config = root / "clomo-sync.toml"
    text = f"""[database]
url = "{url}"
[mail]
delivery = "file"
outbox_dir = "{root}/outbox"
[scheduler]
heartbeat_seconds = 1
[[tenants]]
id = "bench"
account_name_source = "employee_code"
auth_type = "saml"
schedule = "0 0 1 1 *"
[tenants.source]
kind = "csv"
path = "{root}/users.csv"
"""
    if receiver is not None:
        text += f'[audit.stream]\nkind = "syslog"\naddress = "{receiver.address}"\n'
    config.write_text(text, encoding="utf-8")
    return config


def cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "sync", "--config", str(config), *args]


def streamer(config: Path) -> subprocess.Popen[str]:
    """A scheduler that streams; returned once it holds the cursor, has started and is idle (its
    own start-up is not the stream's cost)."""
    process = subprocess.Popen(cli(config, "-v", "scheduler"), cwd=REPO, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    assert process.stderr is not None
    waiting = {"holds the cursor", "started:"}
    for line in process.stderr:
        waiting = {text for text in waiting if text not in line}
        if not waiting:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep draining
            _until_idle(process.pid)
            return process
    raise SystemExit(f"the scheduler ended before it streamed: exit {process.wait()}")


def _until_idle(pid: int) -> None:
    """Until the process used under 2 % of a CPU over a second."""
    before = cpu_seconds(pid)
    while True:
        time.sleep(1)
        now = cpu_seconds(pid)
        if now - before < 0.02:
            return
        before = now


def one_round(users: int, url: str, root: Path, receiver: Receiver | None) -> dict[str, float]:
    config = write_config(root, url, receiver)
    assert subprocess.run(cli(config, "db", "upgrade"), cwd=REPO, check=False).returncode == 0
    process = streamer(config) if receiver is not None else None
    load, cpu_before = os.getloadavg()[0], _children_cpu()
    sender_before = cpu_seconds(process.pid) if process is not None else 0.0
    started = time.monotonic()
    run = subprocess.run(cli(config, "sync", "--tenant", "bench", "--json"), cwd=REPO,
                         capture_output=True, text=True, check=False)  # fmt: skip
    ended = time.monotonic()
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["counts"]["created"] == users, report
    result = {"run_seconds": ended - started, "run_cpu_seconds": _children_cpu() - cpu_before,
              "load_before": load}  # fmt: skip
    if receiver is not None and process is not None:
        # what the stream could take from the run: its sender's CPU while the run ran
        result["sender_cpu_during_run"] = cpu_seconds(process.pid) - sender_before
        while receiver.created < users:
            if time.monotonic() - ended > 600:
                raise SystemExit(f"only {receiver.created} of {users} events after 600 s")
            time.sleep(0.05)
        result["arrival_seconds"] = receiver.last_arrival - ended
        ids = receiver.ids
        assert ids == sorted(ids) and len(set(ids)) == users, "out of order or missing"
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        result.update(export(config, users))
    return result


def export(config: Path, users: int) -> dict[str, float]:
    """`audit export` of the run's events: its time and peak memory (it streams: a batch of rows
    at a time, so the peak must not grow with the events)."""
    started = time.monotonic()
    child = subprocess.Popen(cli(config, "audit", "export", "--tenant", "bench"), cwd=REPO,
                             stdout=subprocess.PIPE)  # fmt: skip
    assert child.stdout is not None
    lines = sum(1 for _ in child.stdout)
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0 and lines == users, (child.returncode, lines)
    return {"export_seconds": time.monotonic() - started, "export_peak_mb": usage.ru_maxrss / 1024}


def _children_cpu() -> float:
    """User + system CPU of the children waited for so far (the run's, measured around it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def store_url(kind: str, root: Path, pg: str | None, n: int) -> tuple[str, str | None]:
    if kind == "sqlite" or pg is None:
        return f"sqlite:///{root}/store.db", None
    name = f"bench_audit_{os.getpid()}_{n}"
    _psql(pg, f"CREATE DATABASE {name}")
    return pg.rsplit("/", 1)[0] + "/" + name, name


def _psql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute(sql)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    kind = "postgresql" if args.postgres_url else "sqlite"
    receiver = Receiver()
    rounds: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for n in range(args.runs * 2):
        mode = ("off", "on", "on", "off")[n % 4]  # each mode first in turn: no warm-up bias
        with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
            root = Path(tmp)
            write_directory(root / "users.csv", args.users)
            url, database = store_url(kind, root, args.postgres_url, n)
            receiver.reset()
            try:
                result = one_round(args.users, url, root, receiver if mode == "on" else None)
            finally:
                if database and args.postgres_url:
                    _psql(args.postgres_url, f"DROP DATABASE {database} WITH (FORCE)")
        rounds[mode].append(result)
        print(f"{mode:>3} {json.dumps(result)}", flush=True)
    off = statistics.median(r["run_seconds"] for r in rounds["off"])
    on = statistics.median(r["run_seconds"] for r in rounds["on"])
    arrival = statistics.median(r["arrival_seconds"] for r in rounds["on"])
    cpu_off = statistics.median(r["run_cpu_seconds"] for r in rounds["off"])
    cpu_on = statistics.median(r["run_cpu_seconds"] for r in rounds["on"])
    summary = {"users": args.users, "store": kind, "runs": args.runs, "run_off_s": off,
               "run_on_s": on, "slower_percent": 100 * (on - off) / off,
               "run_cpu_off_s": cpu_off, "run_cpu_on_s": cpu_on,
               "arrival_after_run_s": arrival, "rounds": rounds}  # fmt: skip
    print(f"\n{kind}, {args.users} accounts, medians of {args.runs}:")
    print(f"  run, stream off {off:.1f} s; on {on:.1f} s ({summary['slower_percent']:+.1f} %, "
          "target ≤ 5 %)")  # fmt: skip
    on_rounds = rounds["on"]
    export_s = statistics.median(r["export_seconds"] for r in on_rounds)
    export_mb = statistics.median(r["export_peak_mb"] for r in on_rounds)
    summary.update(export_s=export_s, export_peak_mb=export_mb)
    print(f"  audit export of the {args.users} events {export_s:.1f} s, peak {export_mb:.0f} MB")
    print(f"  the run's own CPU, stream off {cpu_off:.1f} s; on {cpu_on:.1f} s")
    sender = statistics.median(r["sender_cpu_during_run"] for r in on_rounds)
    summary["sender_cpu_during_run_s"] = sender
    share = 100 * sender / on
    print(f"  the sender's CPU while the run ran {sender:.3f} s ({share:.1f} % of the run)")
    print(f"  every created event at the receiver {arrival:.1f} s after the run (target ≤ 60 s)")
    OUT.mkdir(exist_ok=True)
    path = OUT / f"audit-stream-{kind}-{args.users}.json"
    path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
