"""`clomo-sync health`: the store answers, and a scheduler on this host beats."""

from __future__ import annotations

import json
import signal
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from sync.cli import run as run_cli
from sync.store.schema import scheduler_heartbeats
from sync.timeutil import utc_now
from tests.ops.conftest import Watched, configure, small_directory, tenant, upgraded

FAST = {"jitter_seconds": 0, "heartbeat_seconds": 1, "delivery_interval_seconds": 60}


def health(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli(["--config", str(config), "health", *args])
    return code, capsys.readouterr().out


def test_health_of_the_store_and_the_scheduler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    yearly = "0 0 1 1 *"
    config = configure(
        tmp_path, url, [tenant("acme", small_directory(tmp_path / "u.csv"), schedule=yearly)], FAST
    )
    code, out = health(config, capsys)
    assert code == 1 and "schema is not current" in out  # nobody ran `db upgrade`

    upgraded(url).dispose()
    assert health(config, capsys) == (0, "store: ok: reachable\n")
    code, out = health(config, capsys, "--scheduler")
    assert code == 1 and "no scheduler heartbeat" in out

    scheduler = Watched(config, "scheduler")
    scheduler.wait_for("started")
    code, out = health(config, capsys, "--scheduler", "--json")
    assert code == 0, out
    assert json.loads(out)["healthy"] is True
    assert health(config, capsys, "--scheduler", "--any-host")[0] == 0
    scheduler.process.send_signal(signal.SIGTERM)
    assert scheduler.finish(30).code == 0
    code, out = health(config, capsys, "--scheduler")
    assert code == 1, "a scheduler that stopped cleanly removes its heartbeat"


def test_a_stale_heartbeat_is_unhealthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    config = configure(tmp_path, url, [tenant("acme", small_directory(tmp_path / "u.csv"))])
    engine = upgraded(url)
    host = socket.gethostname()
    with engine.begin() as conn:
        conn.execute(
            insert(scheduler_heartbeats).values(
                worker=f"{host}:1",
                host=host,
                pid=1,
                started_at=utc_now() - timedelta(hours=1),
                beat_at=utc_now() - timedelta(seconds=30),
            )
        )
    engine.dispose()
    assert health(config, capsys, "--scheduler", "--max-age", "60")[0] == 0
    code, out = health(config, capsys, "--scheduler", "--max-age", "10")
    assert code == 1 and "30s ago" in out


def test_an_unreachable_store_is_unhealthy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://clomo:s3cret-pass@127.0.0.1:{port}/nowhere"
    config = configure(tmp_path, url, [tenant("acme", small_directory(tmp_path / "u.csv"))])
    code, out = health(config, capsys)
    assert code == 1 and "cannot reach the store" in out
    assert "s3cret-pass" not in out
