"""A sync killed with SIGKILL at random points converges on a rerun (SPEC §5.4): no duplicate
account, no email lost or written twice. Real processes, real kill -9, SQLite and PostgreSQL."""

from __future__ import annotations

import email
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select

from sync.store.schema import accounts, outbox, reset_tokens
from tests.conftest import Workspace
from tests.support.configs import person

USERS = 3000
KILLS = 4


def start_sync(workspace: Workspace) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "sync",
        "--config",
        str(workspace.config),
        "sync",
        "--tenant",
        "acme",
        "--json",
    ]
    return subprocess.Popen(
        command, cwd=Path(__file__).parent.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def store_counts(url: str) -> tuple[int, int, int]:
    """Rows of accounts, emails and tokens; a kill during the first migration leaves no tables."""
    engine = create_engine(url)
    if not inspect(engine).has_table("reset_tokens"):
        engine.dispose()
        return (0, 0, 0)
    with engine.connect() as conn:
        counts = tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (accounts, outbox, reset_tokens)
        )
    engine.dispose()
    return counts  # type: ignore[return-value]


def test_kill_9_at_random_points_then_rerun_converges(workspace: Workspace) -> None:
    workspace.configure(max_disable=USERS)
    workspace.users([person(n) for n in range(USERS)])
    seed = int(os.environ.get("CLOMO_CRASH_SEED", time.time()))
    rnd = random.Random(seed)
    killed_at = []
    for _ in range(KILLS):
        process = start_sync(workspace)
        delay = rnd.uniform(0.8, 7.0)  # start-up, read, the write, and into delivery
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_at.append(round(delay, 2))
        # all or nothing: the run's one transaction either happened or did not
        assert store_counts(workspace.database_url) in {(0, 0, 0), (USERS, USERS, USERS)}, seed
    final = start_sync(workspace)
    _, err = final.communicate(timeout=240)
    assert final.returncode == 0, err.decode()
    assert workspace.cli("deliver", "--flush").code == 0

    assert store_counts(workspace.database_url) == (USERS, USERS, USERS), (seed, killed_at)
    engine = create_engine(workspace.database_url)
    with engine.connect() as conn:
        per_account = Counter(conn.execute(select(outbox.c.account_id)).scalars())
        statuses = set(conn.execute(select(outbox.c.status)).scalars())
    engine.dispose()
    assert set(per_account.values()) == {1} and statuses == {"sent"}
    recipients = Counter(
        str(email.message_from_bytes(path.read_bytes(), policy=default_policy)["To"])
        for path in workspace.emails()
    )
    assert len(recipients) == USERS and set(recipients.values()) == {1}, (seed, killed_at)
    report = workspace.sync()
    assert report["counts"]["created"] == 0 and report["counts"]["emails_queued"] == 0
