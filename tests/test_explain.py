"""`explain` and `sync --only` (SPEC §18) with a CSV directory, on SQLite and PostgreSQL: explain
agrees with the run that follows for every kind of decision; --only runs one person, marked on
demand; a person typed several ways, nobody, or several people."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Workspace
from tests.support.configs import person
from tests.support.explained import check_explain_then_run, explain, steps


def member(number: int, *groups: str, **fields: Any) -> dict[str, Any]:
    return person(number, groups=";".join(groups), **fields)


def configure(workspace: Workspace) -> None:
    workspace.configure(
        scope={"groups": ["Staff"]},
        roles=[{"group": "IT-Admins", "role": "system_admin"}],
    )
    workspace.users([member(n, "Staff") for n in range(1, 5)])
    assert workspace.sync()["counts"]["created"] == 4


def test_explain_agrees_with_the_run_that_follows(workspace: Workspace) -> None:
    configure(workspace)
    workspace.users(
        [
            member(1, "Staff"),  # unchanged
            member(2, "Visitors"),  # leaves the scope: disabled
            member(3, "Staff", primary_email="user1@other.example"),  # rename, suffixed
            member(4, "Staff", "IT-Admins", display_name="Four"),  # update, role from a group
            member(5, "Staff", "IT-Admins", primary_email="user1@new.example"),  # new, suffixed
            member(6, "Staff", primary_email=""),  # no address: missing_attribute
            member(7, "Visitors"),  # outside the scope, no account
            member(8, "Staff", primary_email="admin@example.com"),  # reserved: suffixed
        ]
    )
    told = check_explain_then_run(
        workspace,
        {
            "u-00001": "USER1",  # an account's name, any case
            "u-00002": "user2@EXAMPLE.com",  # an address
            "u-00003": "Ｅ００００３",  # an employee code, full width
            "u-00004": "u-00004",
            "u-00005": "user1@new.example",  # no account yet: found in the directory
            "u-00006": "E00006",
            "u-00007": "u-00007",
            "u-00008": "admin@example.com",
        },
    )
    assert {sid: t["action"] for sid, t in told.items()} == {
        "u-00001": "unchanged",
        "u-00002": "disable",
        "u-00003": "update+rename",  # its address changed too
        "u-00004": "update",
        "u-00005": "create",
        "u-00006": "issue",
        "u-00007": "none",
        "u-00008": "create",
    }
    assert steps(told["u-00002"], "scope") == ["out of scope: a member of none of Staff"]
    assert steps(told["u-00004"], "role") == [
        "role system_admin, from group IT-Admins; stored was none: it changes"
    ]
    # the same run: u-00003 comes first by source id, so u-00005 gets the next suffix
    assert steps(told["u-00003"], "collision") == [
        "'user1' is taken by user1: suffixed to 'user1-2'"
    ]
    assert steps(told["u-00005"], "collision") == [
        "'user1' is taken by user1: suffixed to 'user1-3'"
    ]
    assert steps(told["u-00008"], "collision") == [
        "'admin' is taken by admin (reserved): suffixed to 'admin-2'"
    ]
    assert steps(told["u-00006"], "issue") == ["missing_attribute: primary_email"]
    assert told["u-00005"]["emails"] == ["account_created to user1@new.example"]
    assert steps(told["u-00003"], "email") == ["queues account_renamed to user1@other.example"]


def test_explain_writes_nothing_and_says_so_in_text(workspace: Workspace) -> None:
    # before any run: the store does not exist and explain does not create it (like --dry-run)
    store = workspace.root / "store.db"
    result = workspace.cli("explain", "--tenant", "acme", "user2@example.com")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "acme: user2@example.com (source id u-00002)"
    assert "  name      rule 'email_local_part' reads primary_email = 'user2@example.com'" in lines
    assert "  collision 'user2' is free: a new account takes it" in lines
    assert lines[-1] == "  => create"
    if workspace.database_url.startswith("sqlite"):
        assert not store.exists()
    assert workspace.sync()["counts"]["created"] == 5  # and the run still creates everyone


def test_nobody_or_several_is_exit_2(workspace: Workspace) -> None:
    workspace.users([person(1), person(2, employee_code="E00001"), person(3)])
    nobody = workspace.cli("explain", "--tenant", "acme", "someone@example.com")
    assert nobody.code == 2
    assert "nobody in acme is 'someone@example.com'" in nobody.err
    several = workspace.cli("explain", "--tenant", "acme", "e00001")
    assert several.code == 2
    assert "'e00001' names 2 people in acme's directory: u-00001 (User 1); u-00002 (User 2)" in (
        several.err
    )
    workspace.sync()
    several = workspace.cli("sync", "--tenant", "acme", "--only", "E00001")
    assert several.code == 2
    assert "'E00001' names 2 accounts of acme: user1 (source id u-00001); user2" in several.err


def test_only_runs_one_person_on_demand(workspace: Workspace) -> None:
    report = workspace.sync("--only", "user3@example.com")
    assert (report["status"], report["on_demand"], report["full"]) == ("succeeded", True, False)
    assert report["source"]["users_read"] == 1 and report["counts"]["created"] == 1
    assert list(workspace.accounts()) == ["user3"] and len(workspace.emails()) == 1
    shown = workspace.cli("runs", "show", report["run_id"], "--json")
    [event] = json.loads(shown.out)["events"]
    assert (event["action"], event["actor"], event["on_demand"]) == (
        "created",
        "run:on_demand",
        True,
    )
    # a partial read: the others are absent from it, and nobody is disabled for that
    workspace.sync()
    workspace.users([person(1), person(2, display_name="Two")])
    report = workspace.sync("--only", "user2")
    assert report["counts"]["updated"] == 1 and report["counts"]["disabled"] == 0
    assert {a["status"] for a in workspace.accounts().values()} == {"active"}


def test_only_someone_outside_the_scope_changes_nothing(workspace: Workspace) -> None:
    configure(workspace)
    workspace.users([member(1, "Staff"), member(2, "Visitors")])
    result = workspace.cli("sync", "--tenant", "acme", "--only", "user2")
    assert result.code == 2
    assert "u-00002 is outside the tenant's group scope: nothing changed" in result.err
    assert workspace.accounts()["user2"]["status"] == "active"
    told = explain(workspace, "user2")  # the next full run would disable it
    assert told["action"] == "disable"


def test_explain_names_the_guard_that_would_hold_the_change(workspace: Workspace) -> None:
    workspace.sync()
    workspace.configure(max_disable=1)
    workspace.users([person(n) for n in (1, 2, 3)])  # two leave: more than max_disable = 1
    told = explain(workspace, "user4")
    assert steps(told, "guard") == ["held back by the disable guard: more than max_disable = 1"]
    assert told["action"] == "unchanged"  # the disable is held: nothing else was planned
    report = workspace.sync()
    assert report["status"] == "blocked" and report["held"][0]["count"] == 2
    assert workspace.accounts()["user4"]["status"] == "active"
