"""One run per tenant across processes: three `sync` processes at once, on SQLite and PostgreSQL.

The tenant lock is a PostgreSQL session advisory lock, or an flock beside the SQLite file; these
tests start real processes so that the kernel and the database server do the arbitration.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from sync.store.locks import named_lock
from sync.store.schema import accounts, outbox, runs
from sync.timeutil import utc_now
from tests.ops.conftest import (
    Watched,
    big_directory,
    configure,
    finish,
    run,
    small_directory,
    start,
    tenant,
    upgraded,
)

USERS, WITH_EMAIL = 20_000, 300


def _no_duplicates(url: str) -> None:
    engine = upgraded(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accounts)).scalar() == USERS
        doubled_accounts = conn.execute(
            select(accounts.c.source_id).group_by(accounts.c.source_id).having(func.count() > 1)
        ).all()
        doubled_emails = conn.execute(
            select(outbox.c.account_id, outbox.c.kind)
            .group_by(outbox.c.account_id, outbox.c.kind)
            .having(func.count() > 1)
        ).all()
        emails = conn.execute(select(func.count()).select_from(outbox)).scalar()
    engine.dispose()
    assert doubled_accounts == []
    assert doubled_emails == []
    assert emails == WITH_EMAIL


def test_three_syncs_at_once_run_the_tenant_once(tmp_path: Path, any_store: str) -> None:
    config = configure(
        tmp_path, any_store, [tenant("big", big_directory(tmp_path / "u.csv", USERS, WITH_EMAIL))]
    )
    upgraded(any_store).dispose()  # as `db upgrade` at deployment: the race is for the tenant
    processes = [start(config, "sync", "--tenant", "big", "--json") for _ in range(3)]
    results = [finish(p) for p in processes]

    assert [r.code for r in results] == [0, 0, 0], [r.err[-2000:] for r in results]
    reports = [r.reports()[0] for r in results]
    assert sorted(r["status"] for r in reports) == ["skipped_locked", "skipped_locked", "succeeded"]
    winner = next(r for r in reports if r["status"] == "succeeded")
    assert winner["counts"]["created"] == USERS
    assert winner["counts"]["emails_queued"] == WITH_EMAIL
    for loser in (r for r in reports if r["status"] == "skipped_locked"):
        assert loser["counts"]["created"] == 0
        assert "another worker" in loser["error"]
    _no_duplicates(any_store)
    engine = upgraded(any_store)
    with engine.connect() as conn:
        recorded = conn.execute(select(runs.c.id, runs.c.status)).all()
    engine.dispose()
    assert [(row.id, row.status) for row in recorded] == [(winner["run_id"], "succeeded")]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == WITH_EMAIL


def test_sync_waits_for_the_worker_holding_the_tenant(tmp_path: Path, any_store: str) -> None:
    """The test holds the tenant's lock itself, as another worker would, for as long as it likes."""
    config = configure(tmp_path, any_store, [tenant("acme", small_directory(tmp_path / "u.csv"))])
    engine = upgraded(any_store)
    with named_lock(engine, "tenant:acme") as held:
        assert held
        plain = run(config, "sync", "--tenant", "acme", "--json")
        short = run(config, "sync", "--tenant", "acme", "--json", "--wait", "1")
        waiting = Watched(config, "sync", "--tenant", "acme", "--json", "--wait", "120")
        time.sleep(3)
        assert waiting.process.poll() is None, "gave up while the lock was held"
        released_at = utc_now()
    result = waiting.finish()
    engine.dispose()

    for skipped in (plain, short):
        assert skipped.code == 0, skipped.err
        assert skipped.reports()[0]["status"] == "skipped_locked"
    assert result.code == 0, result.err
    report = result.reports()[0]
    assert report["status"] == "succeeded"
    assert report["counts"]["created"] == 20
    assert _at(report["started_at"]) < released_at < _at(report["finished_at"])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)
