"""`--metrics-file`: Prometheus text format, read back with prometheus_client's own parser."""

from __future__ import annotations

import json
import socket
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sync.entry.cli import run as run_cli
from tests.mail.smtp_server import Sink, free_port, start_server
from tests.ops.conftest import configure, small_directory, tenant
from tests.support.configs import table


def closed_port() -> int:
    """A port nobody listens on: SMTP delivery there fails and is retried later."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(path: Path) -> Samples:
    found = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_metrics_after_each_run(
    tmp_path: Path, any_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = small_directory(tmp_path / "u.csv", 5)
    config = configure(
        tmp_path,
        any_store,
        [tenant("acme", csv), tenant("broken", tmp_path / "missing.csv")],
    )
    mail = {"delivery": "smtp", "smtp_port": closed_port(), "max_attempts": 2, "timeout_seconds": 2}
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('[mail]\ndelivery = "file"\n', table("[mail]", mail)), encoding="utf-8"
    )
    metrics = tmp_path / "textfile" / "clomo_sync.prom"

    def cli(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = run_cli(["--config", str(config), "--metrics-file", str(metrics), *args])
        return code, capsys.readouterr().out

    code, out = cli("sync", "--all", "--json")
    assert code == 1  # the broken tenant failed
    reports = {r["tenant"]: r for r in map(json.loads, out.splitlines())}
    found = samples(metrics)
    assert value(found, "clomo_sync_runs_total", tenant="acme", status="succeeded") == 1
    assert value(found, "clomo_sync_runs_total", tenant="broken", status="failed") == 1
    assert value(found, "clomo_sync_runs_total", tenant="broken", status="succeeded") == 0
    assert value(found, "clomo_sync_consecutive_failures", tenant="broken") == 1
    assert value(found, "clomo_sync_consecutive_failures", tenant="acme") == 0
    finished = reports["acme"]["finished_at"]
    success = value(found, "clomo_sync_last_success_timestamp_seconds", tenant="acme")
    assert abs(success - _unix(finished)) < 0.01
    assert ("clomo_sync_last_success_timestamp_seconds", (("tenant", "broken"),)) not in found
    assert value(found, "clomo_sync_last_run_status", tenant="broken", status="failed") == 1
    assert value(found, "clomo_sync_last_run_accounts", tenant="acme", outcome="created") == 5
    assert value(found, "clomo_sync_last_run_emails_queued", tenant="acme") == 5
    assert value(found, "clomo_sync_last_run_duration_seconds", tenant="acme") >= 0
    # the SMTP server is not there: the five messages wait for a retry
    assert value(found, "clomo_sync_emails", tenant="acme", status="pending") == 5
    assert value(found, "clomo_sync_emails", tenant="acme", status="failed") == 0

    cli("deliver", "--flush")  # still down: the messages wait, spending no attempt
    assert value(samples(metrics), "clomo_sync_emails", tenant="acme", status="pending") == 5
    # a server that refuses every recipient for good: each fails
    refusing = start_server(Sink(on_rcpt=lambda a: "550 5.1.1 no such user"), free_port())
    try:
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                f"smtp_port = {mail['smtp_port']}", f"smtp_port = {refusing.mail['smtp_port']}"
            ),
            encoding="utf-8",
        )
        assert cli("deliver", "--flush")[0] == 1  # failed for good: deliver says so
    finally:
        refusing.stop()
    found = samples(metrics)
    assert value(found, "clomo_sync_emails", tenant="acme", status="pending") == 0
    assert value(found, "clomo_sync_emails", tenant="acme", status="failed") == 5

    cli("sync", "--all", "--json")
    found = samples(metrics)
    assert value(found, "clomo_sync_runs_total", tenant="acme", status="succeeded") == 2
    assert value(found, "clomo_sync_consecutive_failures", tenant="broken") == 2
    assert value(found, "clomo_sync_last_run_accounts", tenant="acme", outcome="created") == 0
    assert value(found, "clomo_sync_last_run_accounts", tenant="acme", outcome="unchanged") == 5
    # written by rename: nothing half-written is left beside it
    assert [p.name for p in metrics.parent.iterdir()] == ["clomo_sync.prom"]
    assert oct(metrics.stat().st_mode & 0o777) == "0o644"


def _unix(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
