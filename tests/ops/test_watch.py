"""SPEC §15, on SQLite and PostgreSQL: a tenant whose runs stop becomes overdue two ticks and
the run time limit after its last run ended; `health` names it (and fails with
--fail-on-overdue), the metrics say so, and the tenant's alert addresses and the operators get
one email when it becomes overdue and one when a run ends again."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

from sqlalchemy import create_engine, update

from sync.config.settings import load_settings
from sync.services.watch import watch_pass
from sync.store.engine import make_engine
from sync.store.schema import tenant_watch
from sync.timeutil import utc_now
from tests.conftest import Workspace
from tests.support.configs import table


def alerts(workspace: Workspace) -> list[tuple[str, str]]:
    found = []
    for path in workspace.emails():
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        if "Sync of" in str(message["Subject"]):
            found.append((str(message["To"]), str(message["Subject"])))
    return sorted(found)


def test_a_tenant_whose_runs_stop_is_told_once_each_way(workspace: Workspace) -> None:
    workspace.configure(schedule="*/5 * * * *", alert_emails=["it@example.com"])
    with workspace.config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + table("[fleet]", {"operator_emails": ["ops@example.com"],
                                               "run_timeout_seconds": 60}))  # fmt: skip
    assert workspace.sync()["status"] == "succeeded"
    healthy = json.loads(workspace.cli("health", "--fail-on-overdue", "--json").out)
    assert healthy["healthy"] and healthy["overdue"] == []

    engine = create_engine(workspace.database_url)
    with engine.begin() as conn:  # its runs stopped: two ticks and the limit went by
        conn.execute(update(tenant_watch).values(overdue_at=utc_now() - timedelta(minutes=1)))
    engine.dispose()
    settings = load_settings(workspace.config)
    store = make_engine(workspace.database_url)
    try:
        assert watch_pass(settings, store) == ["acme"]
        assert watch_pass(settings, store) == []  # told once, not at every pass
    finally:
        store.dispose()
    sick = workspace.cli("health", "--fail-on-overdue")
    assert sick.code == 1 and "overdue: FAIL: 1 overdue: acme" in sick.out
    assert workspace.cli("health").code == 0  # without the flag it is said, not failed
    metrics = workspace.root / "metrics.prom"
    delivered = workspace.cli("--metrics-file", str(metrics), "deliver", "--json")
    assert delivered.code == 0, delivered
    assert 'clomo_sync_tenant_overdue{tenant="acme"} 1' in metrics.read_text()
    told = alerts(workspace)
    assert [to for to, _ in told] == ["it@example.com", "ops@example.com"]
    assert all("止まっています" in subject for _, subject in told)

    assert workspace.sync()["status"] == "succeeded"  # a run ends: recovered
    workspace.cli("deliver")
    recovered = [to for to, subject in alerts(workspace) if "再開" in subject]
    assert recovered == ["it@example.com", "ops@example.com"]
    assert workspace.cli("health", "--fail-on-overdue").code == 0
    assert workspace.cli("--metrics-file", str(metrics), "deliver").code == 0
    assert 'clomo_sync_tenant_overdue{tenant="acme"} 0' in metrics.read_text()
