"""One page of the console's account list at 100,000 accounts, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.console_page [--count 100000]

Fills a fresh store of each kind with `count` accounts of one tenant (plus a second tenant of
the same size, so the tenant filter has work to do), then times `account_page` (50 rows): the
first page, a page deep in the list (keyset), a status filter, a privilege filter and a
search. Each figure is the median of five runs. docs/web.md quotes the result.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, text

from sync.store.accounts import AccountFilter, account_page
from sync.store.engine import open_store
from sync.store.schema import accounts
from tests.support.postgres import temporary_database

PAGE = 50
BATCH = 10_000


def fill(engine: Engine, count: int) -> None:
    now = datetime.now(UTC)
    for tenant in ("acme", "other"):
        for start in range(0, count, BATCH):
            rows = [_row(tenant, n, now) for n in range(start, min(count, start + BATCH))]
            with engine.begin() as conn:
                conn.execute(insert(accounts), rows)
    with engine.begin() as conn:  # what autovacuum / a long-lived SQLite file would know
        conn.execute(text("ANALYZE"))


def _row(tenant: str, n: int, now: datetime) -> dict[str, Any]:
    name = f"user{n:06d}"
    return {
        "tenant_id": tenant, "name": name, "name_key": name, "source_id": f"s-{n}",
        "composed_name": name, "status": "disabled" if n % 50 == 0 else "active",
        "primary_email": f"{name}@example.com", "emails": "[]", "display_name": f"User {n}",
        "profile_digest": "x", "auth_type": "password",
        "role": "operator" if n % 1000 == 0 else "none", "name_locked": False,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def timed(call: Callable[[], Any]) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        call()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1000


def measure(url: str, count: int) -> dict[str, float]:
    engine = open_store(url)
    fill(engine, count)
    deep = f"user{count - 1000:06d}"
    cases = {
        "first page": (AccountFilter(), None),
        "deep page (keyset)": (AccountFilter(), deep),
        "status=disabled": (AccountFilter(status="disabled"), None),
        "role=operator": (AccountFilter(role="operator"), None),
        "search 'user0999'": (AccountFilter(search="user0999"), None),
    }
    figures = {}
    with engine.connect() as conn:
        for what, (wanted, after) in cases.items():
            rows, _next = account_page(conn, "acme", wanted, after, PAGE)
            assert rows, what
            figures[what] = timed(
                functools.partial(account_page, conn, "acme", wanted, after, PAGE)
            )
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as folder:
        sqlite = measure(f"sqlite:///{folder}/store.db", count)
    with temporary_database() as url:
        postgres = measure(url, count)
    print(f"{count} accounts per tenant, two tenants; median of 5, ms")
    print(f"{'':24} {'SQLite':>8} {'PostgreSQL':>10}")
    for what in sqlite:
        print(f"{what:24} {sqlite[what]:8.1f} {postgres[what]:10.1f}")


if __name__ == "__main__":
    main()
