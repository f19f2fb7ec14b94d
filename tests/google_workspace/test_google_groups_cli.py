"""Scope and roles from nested Google groups (derived membership), end to end through the CLI
on SQLite and PostgreSQL (tests/support/groups.py says what is checked)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Workspace
from tests.google_workspace.conftest import google_keys
from tests.google_workspace.google_emulator import GoogleEmulator, make_user
from tests.support.groups import check_scope_and_roles, configure_groups

STAFF, SALES, TEAM = "staff@example.com", "sales@example.com", "team@example.com"


def test_scope_and_roles_from_nested_groups(
    workspace: Workspace, emulator: GoogleEmulator, key_file: Path
) -> None:
    emulator.users = [make_user(n) for n in range(1, 5)]
    emulator.groups = {
        STAFF: ["user00001@example.com", SALES],
        SALES: ["user00002@example.com", TEAM],
        TEAM: ["user00003@example.com"],
    }
    workspace.tenant["source"] = google_keys(emulator, key_file)
    configure_groups(workspace, "Staff@example.com", SALES)

    def leave_team() -> None:
        emulator.groups[TEAM] = []

    check_scope_and_roles(workspace, {n: f"user{n:05d}" for n in range(1, 5)}, leave_team)
