"""`explain` and `sync --only` on a large LDAP tenant (issue 26: explain answers in 2 s or less
where the source reads one entry).

    python bench/explain.py [--users 100000] [--runs 3] [--settle 10]

Loads the generated directory (bench/people.py) into a private slapd, runs `sync --full` once
into a new SQLite store, then times, as whole processes from start to exit, `explain` of one
person by account name, by DN and as JSON, and `sync --only` of that person to its report (it
would then deliver the full run's 100,000 queued emails). Prints each run's wall time and its
own CPU time (what the wall time would be on a machine nobody else is using), with the medians;
writes nothing but its temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import people
from lab import TENANT, Policy, lab, log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args(argv)
    person = next(p for p in people.people(args.users) if p.index >= args.users // 2 and p.mail)
    assert person.mail is not None
    name, dn = person.mail.split("@")[0], f"uid={person.uid},{people.PEOPLE}"
    with tempfile.TemporaryDirectory(prefix="explain-bench-") as folder:
        workdir = Path(folder)
        with lab(args.users, workdir, Policy(settle=args.settle)) as bench:
            url = f"sqlite:///{workdir / 'store.db'}"
            config = bench.config("explain", url)
            sample = bench.sync(config, url, "--full")
            log(f"full run into a new store: {sample.wall:.1f} s")
            base = [sys.executable, "-m", "sync", "--config", str(config)]
            asks = {
                f"explain {name}": [*base, "explain", "--tenant", TENANT, name],
                "explain DN": [*base, "explain", "--tenant", TENANT, dn],
                f"explain --json {name}": [*base, "explain", "--tenant", TENANT, "--json", name],
                f"sync --only {name}": [
                    *base,
                    "sync",
                    "--tenant",
                    TENANT,
                    "--json",
                    "--only",
                    name,
                ],
            }
            for title, command in asks.items():
                samples = [
                    bench.measured(command, title.startswith("sync"), plain=title.startswith("e"))
                    for _ in range(args.runs)
                ]
                shown = ", ".join(f"{s.wall:.2f} (cpu {s.cpu:.2f})" for s in samples)
                wall = statistics.median(s.wall for s in samples)
                cpu = statistics.median(s.cpu for s in samples)
                log(f"{title}: {shown} s; median {wall:.2f} s, cpu {cpu:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
