"""SPEC §10, end to end through the command line on SQLite and PostgreSQL: guards hold bulk
changes back, change sets are reviewed and approved once, every change is in the audit, everyone
gets a way in, alerts go out on a change of state, and a dry run is exact."""

from __future__ import annotations

import email
import json
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from sync.store.schema import account_events, change_sets, outbox
from tests.conftest import Workspace
from tests.support.configs import person
from tests.support.snapshot import store_rows

PEOPLE = 30  # above the 20 active accounts from which percent bounds apply


def people(**fields: Any) -> list[dict[str, Any]]:
    return [person(n, **fields) for n in range(1, PEOPLE + 1)]


def rows(url: str, query: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    finally:
        engine.dispose()


def kinds_sent(workspace: Workspace) -> list[str]:
    kinds = []
    for path in workspace.emails():
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        kinds.append(str(message["Subject"]))
    return kinds


def test_a_naming_rule_change_is_held_then_approved_once(workspace: Workspace) -> None:
    workspace.users(people())
    assert workspace.sync()["counts"]["created"] == PEOPLE
    workspace.configure(account_name_source="employee_code")

    planned = workspace.sync("--dry-run")
    assert planned["exit"] == 3 and planned["held"][0]["kind"] == "rename"
    report = workspace.sync()
    assert report["status"] == "blocked" and report["exit"] == 3
    assert report["held"][0]["count"] == PEOPLE and "max_rename" in report["error"]
    assert sorted(workspace.accounts()) == sorted(f"user{n}" for n in range(1, PEOPLE + 1))
    set_id = report["held"][0]["change_set"]

    shown = json.loads(workspace.cli("changes", "show", set_id, "--json").out)
    assert len(shown) == PEOPLE
    assert shown[0] == {"account": "user1", "source_id": "u-00001", "action": "rename",
                        "fields": {"name": ["user1", "E00001"]}}  # fmt: skip
    emails_before = len(workspace.emails())

    approved = workspace.cli("changes", "approve", set_id, "--json")
    assert approved.code == 0, approved.err
    run = json.loads(approved.out)
    assert run["status"] == "succeeded" and run["counts"]["renamed"] == PEOPLE
    assert sorted(workspace.accounts()) == sorted(f"E{n:05d}" for n in range(1, PEOPLE + 1))
    assert len(workspace.emails()) == emails_before + PEOPLE  # one account_renamed each
    renamed = rows(workspace.database_url, select(account_events.c.action, account_events.c.run_id)
                   .where(account_events.c.action == "renamed"))  # fmt: skip
    assert len(renamed) == PEOPLE and {r.run_id for r in renamed} == {run["run_id"]}
    (status,) = rows(workspace.database_url, select(change_sets.c.status))
    assert status == ("approved",)

    again = workspace.cli("changes", "approve", set_id)
    assert again.code == 2 and "approved" in again.err
    assert workspace.sync()["counts"]["renamed"] == 0
    assert len(workspace.emails()) == emails_before + PEOPLE


def test_a_rejected_set_stays_unapplied_and_a_newer_one_supersedes(workspace: Workspace) -> None:
    workspace.users(people())
    workspace.sync()
    workspace.users([person(n) for n in range(1, 11)])  # 20 of 30 gone: over 20 %
    first = workspace.sync()["held"][0]
    second = workspace.sync()["held"][0]
    assert first["kind"] == second["kind"] == "disable" and second["count"] == 20
    listed = json.loads(workspace.cli("changes", "list", "--json").out)
    assert {c["id"]: c["status"] for c in listed} == {
        first["change_set"]: "superseded",
        second["change_set"]: "pending",
    }
    assert workspace.cli("changes", "reject", second["change_set"]).code == 0
    assert all(a["status"] == "active" for a in workspace.accounts().values())
    assert workspace.cli("changes", "approve", second["change_set"]).code == 2


def test_a_few_disables_pass_and_the_percent_bound_holds_many(workspace: Workspace) -> None:
    workspace.users(people())
    workspace.sync()
    workspace.users([person(n) for n in range(1, PEOPLE - 2)])  # 3 of 30 gone: 10 %
    assert workspace.sync()["counts"]["disabled"] == 3
    workspace.users([person(n) for n in range(1, 20)])  # 8 more of 27 active: 30 %
    report = workspace.sync()
    assert report["status"] == "blocked" and "max_disable_percent = 20" in report["error"]
    assert sum(a["status"] == "disabled" for a in workspace.accounts().values()) == 3


def test_cleared_addresses_are_held_while_other_updates_apply(workspace: Workspace) -> None:
    workspace.configure(account_name_source="employee_code")
    workspace.users(people())
    workspace.sync()
    # an export that lost every address, while one person also changed their display name
    workspace.users(
        [
            person(n, primary_email="", display_name="Renamed" if n == 1 else f"User {n}")
            for n in range(1, PEOPLE + 1)
        ]
    )
    report = workspace.sync()
    assert report["status"] == "blocked" and report["held"][0]["kind"] == "clear"
    accounts = workspace.accounts()
    assert all(a["primary_email"] for a in accounts.values())
    assert accounts["E00001"]["display_name"] == "Renamed"
    shown = json.loads(workspace.cli("changes", "show", report["held"][0]["change_set"],
                                     "--json").out)  # fmt: skip
    assert shown[0]["fields"] == {"primary_email": ["user1@example.com", None]}


def test_an_account_gets_its_invitation_once_it_has_an_address(workspace: Workspace) -> None:
    workspace.configure(account_name_source="employee_code")
    workspace.users([person(1), person(2, primary_email="")])
    first = workspace.sync()
    assert first["counts"]["emails_queued"] == 1
    assert [(i["source_id"], i["reason"], i["detail"]) for i in first["issues"]] == [
        ("u-00002", "missing_email", "primary_email")
    ]
    created = rows(
        workspace.database_url,
        select(
            account_events.c.account_name, account_events.c.actor, account_events.c.fields
        ).order_by(account_events.c.id),
    )
    assert [(name, actor, json.loads(fields)) for name, actor, fields in created] == [
        ("E00001", "run", {"name": [None, "E00001"], "primary_email": [None, "user1@example.com"]}),
        ("E00002", "run", {"name": [None, "E00002"]}),  # created without an address
    ]
    again = workspace.sync()
    assert any(i["reason"] == "missing_email" for i in again["issues"])  # reported every run
    workspace.users([person(1), person(2)])
    planned = workspace.sync("--dry-run")
    assert planned["counts"]["emails_queued"] == 1
    report = workspace.sync()
    assert report["counts"]["emails_queued"] == 1 and not report["issues"]
    assert len(workspace.emails()) == 2
    assert workspace.sync()["counts"]["emails_queued"] == 0


def test_every_change_is_in_the_audit(workspace: Workspace) -> None:
    workspace.users(people())
    workspace.sync()
    workspace.users([person(n, display_name="Neu" if n == 1 else f"User {n}")
                     for n in range(1, PEOPLE)])  # fmt: skip
    workspace.sync()
    assert workspace.cli("accounts", "edit", "--tenant", "acme", "user1", "--memo", "VIP").code == 0
    history = json.loads(workspace.cli("accounts", "history", "--tenant", "acme", "user1",
                                       "--json").out)  # fmt: skip
    assert [e["action"] for e in history] == ["created", "updated", "edited"]
    assert history[1]["fields"] == {"display_name": ["User 1", "Neu"]}
    assert history[2]["fields"] == {"memo": [None, "VIP"]} and history[2]["actor"].startswith(
        "admin:"
    )
    gone = json.loads(workspace.cli("accounts", "history", "--tenant", "acme", f"user{PEOPLE}",
                                    "--json").out)  # fmt: skip
    assert gone[-1]["action"] == "disabled" and gone[-1]["run_id"]
    shown = json.loads(workspace.cli("runs", "show", gone[-1]["run_id"], "--json").out)
    assert {e["action"] for e in shown["events"]} == {"updated", "disabled"}


def test_alerts_are_sent_on_a_change_of_state_only(workspace: Workspace) -> None:
    workspace.configure(alert_emails=["it@example.com"])
    workspace.users(people())
    workspace.sync()
    workspace.csv.unlink()
    assert workspace.sync()["status"] == "failed"
    assert workspace.sync()["status"] == "failed"
    workspace.users(people())
    assert workspace.sync()["status"] == "succeeded"
    alerts = rows(workspace.database_url, select(outbox.c.to_address, outbox.c.params)
                  .where(outbox.c.kind == "run_alert").order_by(outbox.c.id))  # fmt: skip
    assert [(a.to_address, json.loads(a.params)["status"]) for a in alerts] == [
        ("it@example.com", "failed"),
        ("it@example.com", "succeeded"),
    ]
    assert sum("failed" in s or "recovered" in s for s in kinds_sent(workspace)) == 2


def test_a_dry_run_of_a_blocked_plan_writes_nothing_and_exits_3(workspace: Workspace) -> None:
    workspace.users(people())
    workspace.sync()
    workspace.users([person(n) for n in range(1, 5)])
    before = store_rows(workspace.database_url)
    planned = workspace.sync("--dry-run")
    assert planned["exit"] == 3 and planned["status"] == "planned"
    assert planned["held"][0]["kind"] == "disable" and planned["held"][0]["count"] == PEOPLE - 4
    assert store_rows(workspace.database_url) == before
    assert not Path(workspace.root / "outbox").exists() or len(workspace.emails()) == PEOPLE
