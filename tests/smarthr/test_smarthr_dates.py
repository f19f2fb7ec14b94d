"""SPEC §16's done-when scenario on SQLite and PostgreSQL: a SmartHR tenant on the emulator goes
through a first run, a joiner ten days ahead (pending, invited on the configured day at 09:00),
a leaver whose date passed (disabled by the date sweep with no source read), a crew put on leave
under both absent policies, and a webhook-triggered run. Runs at chosen moments go through the
services with the plan's time passed in; the rest through the command line and the web app."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Engine

from sync.config.settings import TenantSettings, load_settings
from sync.model.report import RunReport
from sync.services.datesweep import sweep_dates
from sync.services.runner import RunOptions, run_tenant
from sync.store.engine import open_store
from tests.conftest import Workspace
from tests.ops.conftest import wait_for
from tests.smarthr.conftest import WEBHOOK_TOKEN, smarthr_keys
from tests.smarthr.emulator import SmartHrEmulator, make_crew
from tests.smarthr.test_smarthr_webhook import HOOK, client, settled
from tests.web.conftest import Pages

TOKYO = ZoneInfo("Asia/Tokyo")
TODAY = datetime.now(TOKYO).date()
JOINS = TODAY + timedelta(days=10)
LEAVES = TODAY + timedelta(days=2)
INVITE_DAYS = 3


def tokyo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO).astimezone(UTC)


class Tenant:
    """The workspace's tenant as the services see it, run at chosen moments."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.engine: Engine = open_store(workspace.database_url)

    def settings(self) -> tuple[Any, TenantSettings]:
        settings = load_settings(self.workspace.config)
        return settings, next(t for t in settings.tenants if t.id == "acme")

    def run(self, at: datetime) -> RunReport:
        settings, tenant = self.settings()
        return run_tenant(settings, tenant, self.engine, RunOptions(now=at))

    def sweep(self, at: datetime) -> RunReport:
        settings, tenant = self.settings()
        return sweep_dates(settings, tenant, self.engine, at)

    def invitations(self) -> list[str]:
        query = "SELECT to_address FROM outbox WHERE kind = 'account_created' ORDER BY id"
        with self.engine.connect() as conn:
            return [str(a) for a in conn.execute(sa.text(query)).scalars()]

    def runs(self) -> list[str]:
        with self.engine.connect() as conn:
            query = sa.text("SELECT report FROM runs ORDER BY started_at")
            return [json.loads(r)["source"]["kind"] for r in conn.execute(query).scalars()]


def statuses(workspace: Workspace) -> dict[str, str]:
    return {name: account["status"] for name, account in workspace.accounts().items()}


def test_joiner_leaver_and_leave_on_their_dates(
    workspace: Workspace, emulator: SmartHrEmulator
) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 6)]
    emulator.crews.append(make_crew(6, entered_at=JOINS.isoformat()))
    emulator.crews.append(make_crew(7, resigned_at=LEAVES.isoformat()))
    workspace.tenant.update(
        timezone="Asia/Tokyo",
        invite_days_before_start=INVITE_DAYS,
        source=smarthr_keys(emulator),
    )
    workspace.configure()

    first = workspace.sync()  # now, through the command line

    assert (first["exit"], first["status"], first["counts"]["created"]) == (0, "succeeded", 7)
    assert first["counts"]["emails_queued"] == 6  # everyone but the joiner
    assert statuses(workspace)["crew6"] == "pending"
    pending = workspace.cli("accounts", "list", "--tenant", "acme", "--status", "pending", "--json")
    [joiner] = json.loads(pending.out)
    assert (joiner["name"], joiner["start_date"]) == ("crew6", JOINS.isoformat())
    tenant = Tenant(workspace)
    assert "crew6@example.co.jp" not in tenant.invitations()
    refused = workspace.cli("accounts", "reset-password", "--tenant", "acme", "crew6")
    assert refused.code != 0 and "pending until its start date" in refused.err

    read_so_far = emulator.crew_requests
    # the leaver: still working on the last day, disabled from 00:00 the day after
    assert tenant.sweep(tokyo(LEAVES, 23, 59)).counts["disabled"] == 0
    left = tenant.sweep(tokyo(LEAVES + timedelta(days=1), 0))
    assert (left.status, left.counts["disabled"]) == ("succeeded", 1)
    assert statuses(workspace)["crew7"] == "disabled"

    # the joiner's invitation day: nothing before 09:00 Tokyo time, then the invitation
    invite_day = JOINS - timedelta(days=INVITE_DAYS)
    quiet = tenant.sweep(tokyo(invite_day, 8, 59))
    assert quiet.status == "succeeded" and quiet.counts["emails_queued"] == 0
    invited = tenant.sweep(tokyo(invite_day, 9))
    assert invited.counts["emails_queued"] == 1
    assert tenant.invitations()[-1] == "crew6@example.co.jp"
    assert tenant.sweep(tokyo(invite_day, 10)).counts["emails_queued"] == 0  # once
    assert statuses(workspace)["crew6"] == "pending"

    # the start date: active from 00:00, no second invitation
    started = tenant.sweep(tokyo(JOINS, 0))
    assert (started.counts["enabled"], started.counts["emails_queued"]) == (1, 0)
    assert statuses(workspace)["crew6"] == "active"
    assert emulator.crew_requests == read_so_far  # the sweeps never read SmartHR
    assert tenant.runs() == ["smarthr", "date_sweep", "date_sweep", "date_sweep"]
    history = workspace.cli("accounts", "history", "--tenant", "acme", "crew7", "--json")
    assert '"past its end date"' in history.out or "disabled" in history.out

    # a crew on leave keeps the account under "keep", loses it under "disable"
    emulator.crew(3)["emp_status"] = "absent"
    kept = tenant.run(tokyo(JOINS, 12))
    assert (kept.status, kept.counts["disabled"]) == ("succeeded", 0)
    workspace.tenant["source"] = smarthr_keys(emulator, absent_policy="disable")
    workspace.configure()
    workspace.cli("tenants", "list")  # the file's tenants are applied when a command starts
    dropped = tenant.run(tokyo(JOINS, 12, 30))
    assert (dropped.status, dropped.counts["disabled"]) == ("succeeded", 1)
    assert statuses(workspace)["crew3"] == "disabled"

    # SmartHR says a crew changed: the webhook runs the tenant, which reads SmartHR
    emulator.crew(3)["emp_status"] = "employed"
    read_before, runs_before = emulator.crew_requests, len(tenant.runs())
    hooked = Pages(workspace, tenant.engine)
    with client(hooked) as http:
        answer = http.post(HOOK, headers={"X-SmartHR-Token": WEBHOOK_TOKEN})
        assert answer.status_code == 202
        wait_for(lambda: len(tenant.runs()) > runs_before, 60, "the webhook's run")
        settled(http)
    assert emulator.crew_requests > read_before and statuses(workspace)["crew3"] == "active"
    tenant.engine.dispose()


def test_a_sweep_past_max_disable_is_held_in_a_change_set(
    workspace: Workspace, emulator: SmartHrEmulator
) -> None:
    emulator.crews = [make_crew(n, resigned_at=LEAVES.isoformat()) for n in range(1, 5)]
    workspace.tenant.update(timezone="Asia/Tokyo", max_disable=2, source=smarthr_keys(emulator))
    workspace.configure()
    assert workspace.sync()["counts"]["created"] == 4

    held = Tenant(workspace).sweep(tokyo(LEAVES + timedelta(days=1), 0))

    assert (held.status, held.counts["disabled"]) == ("blocked", 0)
    assert (held.held[0]["kind"], held.held[0]["count"]) == ("disable", 4)
    assert set(statuses(workspace).values()) == {"active"}
    changes = workspace.cli("changes", "list", "--tenant", "acme", "--json")
    assert held.held[0]["change_set"] in changes.out
