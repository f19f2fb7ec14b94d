"""Groups for scope and privileges (SPEC §13) end to end with a CSV directory's `groups` column,
on SQLite and PostgreSQL: the scope decides who has an account, the first matching role rule
gives the privilege, a privilege set by hand is kept until the matched group changes."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Workspace
from tests.support.configs import person

ROLES = [
    {"group": "IT-Admins", "role": "system_admin"},
    {"group": "Helpdesk", "role": "custom_admin", "permission_scheme": "helpdesk"},
    {"group": "Staff", "role": "operator"},
]


def member(number: int, *groups: str, **fields: Any) -> dict[str, Any]:
    return person(number, groups=";".join(groups), **fields)


def roles(workspace: Workspace) -> dict[str, tuple[str, str | None]]:
    return {n: (a["role"], a["role_scheme"]) for n, a in workspace.accounts().items()}


def test_only_members_of_the_scope_get_accounts_and_leavers_are_disabled(
    workspace: Workspace,
) -> None:
    workspace.configure(scope={"groups": ["Staff", "Contractors"]})
    workspace.users(
        [member(1, "staff"), member(2, "Contractors"), member(3, "Visitors"), member(4)]
    )
    report = workspace.sync()
    assert report["counts"]["created"] == 2 and report["counts"]["skipped"] == 0
    assert sorted(workspace.accounts()) == ["user1", "user2"]

    workspace.users([member(1, "Staff"), member(2, "Visitors")])  # user2 left the scope
    report = workspace.sync()
    assert report["counts"]["disabled"] == 1
    assert workspace.accounts()["user2"]["status"] == "disabled"
    history = json.loads(workspace.cli("accounts", "history", "--tenant", "acme", "user2",
                                       "--json").out)  # fmt: skip
    assert history[-1]["action"] == "disabled"

    workspace.users([member(1, "Staff"), member(2, "Staff")])
    assert workspace.sync()["counts"]["enabled"] == 1


def test_leaving_the_scope_en_masse_is_held_by_the_disable_guard(workspace: Workspace) -> None:
    workspace.configure(scope={"groups": ["Staff"]})
    workspace.users([member(n, "Staff") for n in range(1, 31)])
    workspace.sync()
    workspace.users([member(n, "Staff" if n <= 10 else "Alumni") for n in range(1, 31)])
    report = workspace.sync()
    assert report["status"] == "blocked" and report["held"][0]["kind"] == "disable"
    assert all(a["status"] == "active" for a in workspace.accounts().values())


def test_the_first_matching_rule_gives_the_privilege(workspace: Workspace) -> None:
    workspace.configure(roles=ROLES)
    workspace.users([member(1, "Staff", "IT-Admins"), member(2, "helpdesk"), member(3, "Staff"),
                     member(4)])  # fmt: skip
    workspace.sync()
    assert roles(workspace) == {
        "user1": ("system_admin", None),
        "user2": ("custom_admin", "helpdesk"),
        "user3": ("operator", None),
        "user4": ("none", None),
    }
    workspace.users([member(1, "Staff"), member(2, "helpdesk"), member(3), member(4)])
    report = workspace.sync()
    assert report["counts"]["updated"] == 2
    assert roles(workspace)["user1"] == ("operator", None)
    assert roles(workspace)["user3"] == ("none", None)
    history = json.loads(workspace.cli("accounts", "history", "--tenant", "acme", "user1",
                                       "--json").out)  # fmt: skip
    assert history[-1]["fields"] == {
        "role": ["system_admin", "operator"],
        "role_group": ["IT-Admins", "Staff"],
    }
    assert workspace.sync()["counts"]["updated"] == 0


def test_a_privilege_set_by_hand_lasts_until_the_matched_group_changes(
    workspace: Workspace,
) -> None:
    workspace.configure(roles=ROLES)
    workspace.users([member(1, "Staff")])
    workspace.sync()
    edited = workspace.cli("accounts", "edit", "--tenant", "acme", "user1", "--role",
                           "department_admin")  # fmt: skip
    assert edited.code == 0, edited.err
    assert workspace.sync()["counts"]["updated"] == 0
    assert roles(workspace)["user1"] == ("department_admin", None)

    workspace.users([member(1, "IT-Admins")])  # the matched group changes: the rule applies
    assert workspace.sync()["counts"]["updated"] == 1
    assert roles(workspace)["user1"] == ("system_admin", None)
    history = json.loads(workspace.cli("accounts", "history", "--tenant", "acme", "user1",
                                       "--json").out)  # fmt: skip
    edited_event, updated_event = history[-2], history[-1]
    assert edited_event["action"] == "edited"
    assert edited_event["fields"]["role_by_hand"] == [False, True]
    assert updated_event["fields"]["role_by_hand"] == [True, False]
    assert updated_event["fields"]["role_group"] == ["Staff", "IT-Admins"]
