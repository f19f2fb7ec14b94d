"""`clomo-sync health`: the store answers; on a fleet, the workers seen and the queue's lag."""

from __future__ import annotations

import json
import signal
import socket
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, insert

from sync.entry.cli import run as run_cli
from sync.store.schema import tenant_dispatch
from sync.timeutil import utc_now
from tests.ops.conftest import Watched, configure, small_directory, tenant, upgraded, wait_for
from tests.support.configs import table
from tests.support.slapd import free_port

FAST = {"heartbeat_seconds": 1, "stalled_after_seconds": 5}


def health(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli(["--config", str(config), "health", *args])
    return code, capsys.readouterr().out


def test_health_of_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    config = configure(tmp_path, url, [tenant("acme", small_directory(tmp_path / "u.csv"))])
    code, out = health(config, capsys)
    assert code == 1 and "schema is not current" in out  # nobody ran `db upgrade`

    upgraded(url).dispose()
    assert health(config, capsys) == (0, "store: ok: reachable\noverdue: ok: no tenant overdue\n")
    code, out = health(config, capsys, "--min-workers", "1")
    assert code == 1 and "no fleet queue" in out


def test_health_of_the_fleet_queue(
    tmp_path: Path, pg_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    yearly = "0 0 1 1 *"
    config = configure(
        tmp_path, pg_store, [tenant("acme", small_directory(tmp_path / "u.csv"), schedule=yearly)]
    )
    port = free_port()
    fleet = {**FAST, "metrics_port": port, "metrics_host": "127.0.0.1"}
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + table("[fleet]", fleet))
    engine = upgraded(pg_store)
    code, out = health(config, capsys, "--json")
    assert code == 0, out
    assert json.loads(out)["queue"] == {
        "workers": 0,
        "queued": 0,
        "running": 0,
        "lag_seconds": 0.0,
        "oldest_due": None,
    }
    assert health(config, capsys, "--min-workers", "1")[0] == 1

    worker = Watched(config, "worker", "--concurrency", "1")
    try:
        worker.wait_for("started")
        wait_for(lambda: health(config, capsys, "--min-workers", "1")[0] == 0, 30, "a worker")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            scraped = {
                sample.name: sample.value
                for family in text_string_to_metric_families(answer.read().decode())
                for sample in family.samples
            }
        assert scraped["clomo_sync_workers"] == 1
        assert scraped["clomo_sync_queue_lag_seconds"] == 0
        assert "clomo_sync_queue_runs" in scraped
        worker.process.send_signal(signal.SIGTERM)
        assert worker.finish(30).code == 0
    finally:
        if worker.process.poll() is None:
            worker.process.kill()
    with engine.begin() as conn:  # a tenant whose tick is ten minutes overdue
        conn.execute(delete(tenant_dispatch))
        overdue = utc_now() - timedelta(minutes=10)
        conn.execute(insert(tenant_dispatch).values(tenant_id="acme", next_due_at=overdue))
    code, out = health(config, capsys, "--max-lag", "60")
    assert code == 1 and "60" in out and "late" in out, out
    engine.dispose()


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
