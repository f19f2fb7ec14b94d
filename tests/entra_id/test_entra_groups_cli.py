"""Scope and roles from nested Entra ID groups (transitive members), end to end through the CLI
on SQLite and PostgreSQL (tests/support/groups.py says what is checked)."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.entra_id.conftest import entra_keys
from tests.entra_id.emulator import EntraEmulator
from tests.entra_id.test_entra_source import uid
from tests.support.groups import check_scope_and_roles, configure_groups

STAFF = "1111aaaa-1111-4111-8111-111111111111"
SALES = "2222bbbb-2222-4222-8222-222222222222"
TEAM = "33333333-3333-4333-8333-333333333333"


def test_scope_and_roles_from_nested_groups(workspace: Workspace, emulator: EntraEmulator) -> None:
    emulator.users = emulator.users[:4]
    emulator.permissions.add("GroupMember.Read.All")
    emulator.groups = {STAFF: [uid(1), SALES], SALES: [uid(2), TEAM], TEAM: [uid(3)]}
    workspace.tenant["source"] = entra_keys(emulator)
    configure_groups(workspace, STAFF, SALES.upper())

    def leave_team() -> None:
        emulator.groups[TEAM] = []

    check_scope_and_roles(workspace, {n: f"user{n}" for n in range(1, 5)}, leave_team)
