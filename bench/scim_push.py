"""SCIM pushes into `clomo-sync web` (issue 25): latency per request and the time from the
last push until the people have accounts with their invitations queued.

    python bench/scim_push.py [--users 1000] [--skip-postgres] [--postgres-url URL]

For SQLite and PostgreSQL each: a new store and a SCIM tenant (default settle time, 5 s),
`web` started as a real process on 127.0.0.1, then sequentially `--users` POST /Users and as
many PATCH /Users/{id} (Entra's shape: a capitalised Replace of name.familyName). Prints p50
and p99 latency of each kind as the client sees it, the same as `web` itself logged it (its
access log's time, from request to response), and the seconds from the last PATCH's answer
until every account exists and has its `account_created` email queued (the settle time
included). Nothing else is controlled: on a shared machine the figures move with its load.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
SERVING = re.compile(r"serving the password pages on (http://127\.0\.0\.1:\d+)/")
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ACCESS = re.compile(r'"(POST|PATCH) /scim/v2/acme/Users[^"]*" 20[01] (\d+)ms')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"{args.users} POST then {args.users} PATCH, sequential; load {os.getloadavg()[0]:.2f}")
    print("            client p50/p99 ms    web's own p50/p99 ms   last push ->")
    print("store       POST        PATCH        POST        PATCH        invited s")
    with tempfile.TemporaryDirectory() as folder:
        bench(Path(folder) / "sqlite", f"sqlite:///{folder}/store.db", "sqlite", args.users)
    if not args.skip_postgres:
        with postgres_database(args.postgres_url) as url, tempfile.TemporaryDirectory() as folder:
            bench(Path(folder), url, "postgresql", args.users)


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"clomo_bench_scim_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        base = admin_url.rsplit("/", 1)[0]
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def bench(folder: Path, url: str, label: str, users: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "clomo-sync.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[mail]\ndelivery = "file"\noutbox_dir = "{folder}/outbox"\n'
        '[[tenants]]\nid = "acme"\naccount_name_source = "email"\n'
        'reset_url = "https://panel.example.com/reset?token={token}"\n'
        'max_disable = 0\n[tenants.source]\nkind = "scim"\n',
        encoding="utf-8",
    )
    token = cli(config, "tenants", "scim-token", "acme").strip()
    with web(config, folder / "web.log") as base:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        with httpx.Client(base_url=f"{base}/scim/v2/acme", headers=headers) as client:
            posts, ids = push_users(client, users)
            patches = patch_users(client, ids)
            last_push = time.monotonic()
            settled = until_invited(url, users, last_push)
    served = logged(folder / "web.log")
    print(
        f"{label:<11} {ms(posts, 50):>5.1f}/{ms(posts, 99):<6.1f} "
        f"{ms(patches, 50):>5.1f}/{ms(patches, 99):<6.1f} "
        f"{ms(served['POST'], 50):>5.1f}/{ms(served['POST'], 99):<6.1f} "
        f"{ms(served['PATCH'], 50):>5.1f}/{ms(served['PATCH'], 99):<6.1f} {settled:>6.1f}"
    )


def logged(log: Path) -> dict[str, list[float]]:
    """Seconds per POST /Users and PATCH /Users/{id} as web's access log gives them."""
    found: dict[str, list[float]] = {"POST": [], "PATCH": []}
    for method, took in ACCESS.findall(log.read_text(encoding="utf-8")):
        found[method].append(int(took) / 1000)
    return found


def push_users(client: httpx.Client, users: int) -> tuple[list[float], list[str]]:
    took, ids = [], []
    for n in range(users):
        body = {
            "schemas": [CORE_USER],
            "userName": f"person{n:05d}@example.com",
            "active": True,
            "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
            "emails": [{"value": f"person{n:05d}@example.com", "type": "work", "primary": True}],
        }
        started = time.perf_counter()
        response = client.post("/Users", json=body)
        took.append(time.perf_counter() - started)
        response.raise_for_status()
        ids.append(response.json()["id"])
    return took, ids


def patch_users(client: httpx.Client, ids: list[str]) -> list[float]:
    took = []
    for n, user_id in enumerate(ids):
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "name.familyName", "value": f"Renamed{n}"}],
        }
        started = time.perf_counter()
        client.patch(f"/Users/{user_id}", json=body).raise_for_status()
        took.append(time.perf_counter() - started)
    return took


def until_invited(url: str, users: int, since: float) -> float:
    """Seconds from `since` until the store holds `users` accounts, each invited."""
    engine = create_engine(url)
    query = text(
        "SELECT (SELECT count(*) FROM accounts WHERE family_name LIKE 'Renamed%'),"
        " (SELECT count(*) FROM outbox WHERE kind = 'account_created')"
    )
    try:
        while True:
            with engine.connect() as conn:
                accounts, invited = conn.execute(query).one()
            if accounts >= users and invited >= users:
                return time.monotonic() - since
            if time.monotonic() - since > 600:
                raise SystemExit(f"after 600 s: {accounts} accounts, {invited} invitations")
            time.sleep(0.05)
    finally:
        engine.dispose()


def ms(samples: list[float], percentile: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percentile - 1] * 1000


def cli(config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sync", "--config", str(config), *args],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


@contextmanager
def web(config: Path, log: Path) -> Iterator[str]:
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "sync", "--config", str(config), "web", "--port", "0"],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (found := SERVING.search(log.read_text(encoding="utf-8"))):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"web did not start: {log.read_text()}")
            time.sleep(0.05)
        yield found.group(1)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
