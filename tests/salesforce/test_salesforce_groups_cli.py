"""Scope and roles from nested Salesforce public groups, end to end through the CLI on SQLite and
PostgreSQL (tests/support/groups.py says what is checked)."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.salesforce.emulator import SalesforceEmulator, make_user
from tests.salesforce.helpers import EPOCH, JwtKeys, Tls, salesforce_keys
from tests.support.groups import check_scope_and_roles, configure_groups

STAFF, SALES, TEAM = (f"00G{n:015d}" for n in (1, 2, 3))


def test_scope_and_roles_from_nested_groups(
    workspace: Workspace, emulator: SalesforceEmulator, tls: Tls, jwt_keys: JwtKeys
) -> None:
    emulator.users = [make_user(n, EPOCH) for n in range(1, 5)]
    emulator.groups = [
        {"Id": group_id, "DeveloperName": name, "Type": "Regular"}
        for group_id, name in ((STAFF, "Staff"), (SALES, "Sales"), (TEAM, "Team"))
    ]
    rows = [(STAFF, "005000000000000001"), (STAFF, SALES), (SALES, "005000000000000002"),
            (SALES, TEAM), (TEAM, "005000000000000003")]  # fmt: skip
    emulator.group_members = [
        {"Id": f"011{n:015d}", "GroupId": g, "UserOrGroupId": m} for n, (g, m) in enumerate(rows)
    ]
    workspace.tenant["source"] = salesforce_keys(emulator, tls, jwt_keys)
    configure_groups(workspace, "Staff", "SALES")

    def leave_team() -> None:
        emulator.group_members = [m for m in emulator.group_members if m["GroupId"] != TEAM]

    check_scope_and_roles(workspace, {n: f"user{n}" for n in range(1, 5)}, leave_team)
