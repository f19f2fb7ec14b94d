"""A run's time limit (SPEC §15, sync.services.runlimit), on both stores: a run held past it is
abandoned (recorded failed, its lock free at once), and when the held run wakes it commits
nothing. The limit is the service's argument here; `[fleet] run_timeout_seconds` (a minute at
least) is what the worker and the scheduler pass."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sync.config.settings import Settings, TenantSettings, load_settings
from sync.model import RunStatus
from sync.services.runlimit import run_limited
from sync.store.locks import named_lock
from tests.ops.conftest import configure, small_directory, tenant, upgraded, wait_for
from tests.support.configs import person, write_users


def _setup(tmp_path: Path, url: str, csv: Path) -> tuple[Settings, TenantSettings, Engine]:
    settings = load_settings(configure(tmp_path, url, [tenant("held", csv)]))
    return settings, settings.tenants[0], upgraded(url)


def _count(engine: Engine, query: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(query)).scalar_one())


def test_a_run_past_its_limit_is_abandoned_and_commits_nothing(
    tmp_path: Path, any_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = tmp_path / "held.csv"
    os.mkfifo(pipe)
    settings, held, engine = _setup(tmp_path, any_store, pipe)
    caplog.set_level(logging.WARNING, "sync.services.runlimit")
    limited = run_limited(settings, held, engine, 1)  # blocks in open(): the limit passes
    assert limited.abandoned
    assert limited.report.status == RunStatus.FAILED
    assert "time limit" in (limited.report.error or "")
    with named_lock(engine, "tenant:held") as free:  # taken back: another run may go now
        assert free
    assert _count(engine, "SELECT count(*) FROM runs WHERE status = 'failed'") == 1
    # the held run reads its directory now: it must not commit what it planned
    content = tmp_path / "content.csv"
    write_users(content, [person(n) for n in range(3)])
    with pipe.open("w", encoding="utf-8") as handle:
        handle.write(content.read_text(encoding="utf-8"))
    os.replace(content, pipe)
    wait_for(lambda: "abandoned run of held ended" in caplog.text, 30, "the held run's end")
    assert "LockLost" in caplog.text or "taken back" in caplog.text, caplog.text
    assert _count(engine, "SELECT count(*) FROM accounts") == 0
    assert _count(engine, "SELECT count(*) FROM runs") == 1
    # a run of the tenant now (a plain file) succeeds and creates the accounts once
    fresh = run_limited(settings, held, engine, 60)
    assert not fresh.abandoned and fresh.report.status == RunStatus.SUCCEEDED
    assert _count(engine, "SELECT count(*) FROM accounts") == 3
    assert _count(engine, "SELECT count(*) FROM runs WHERE status = 'succeeded'") == 1


def test_a_run_within_its_limit_is_not_touched(tmp_path: Path, any_store: str) -> None:
    settings, held, engine = _setup(tmp_path, any_store, small_directory(tmp_path / "u.csv", 4))
    limited = run_limited(settings, held, engine, 60)
    assert not limited.abandoned
    assert limited.report.status == RunStatus.SUCCEEDED
    assert _count(engine, "SELECT count(*) FROM accounts") == 4
