"""Scope and roles from nested LDAP groups, end to end through the CLI on SQLite and PostgreSQL
(tests/support/groups.py says what is checked)."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace
from tests.ldap.conftest import MakeSlapd
from tests.support import slapd as S
from tests.support.groups import check_scope_and_roles, configure_groups

PASSWORD_ENV = "ACME_LDAP_PASSWORD"
STAFF, SALES, TEAM = (f"cn={cn},{S.GROUPS}" for cn in ("Staff", "Sales", "Team"))


def test_scope_and_roles_from_nested_groups(
    workspace: Workspace, make_slapd: MakeSlapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, S.SYNC_PW)
    server = make_slapd(
        [
            *S.people(4),
            S.groups_ou(),
            S.group_entry("Staff", [S.person_dn(1), SALES]),
            S.group_entry("Sales", [S.person_dn(2), TEAM]),
            S.group_entry("Team", [S.person_dn(3)], unique=True),
        ]
    )
    workspace.tenant["source"] = {
        "kind": "ldap",
        "url": server.url,
        "bind_dn": S.SYNC_DN,
        "password_env": PASSWORD_ENV,
        "base_dn": S.PEOPLE,
        "retry_seconds": 0,
    }
    configure_groups(workspace, STAFF.upper(), SALES)

    def leave_team() -> None:
        conn = server.admin()
        conn.modify(TEAM, {"uniqueMember": [("MODIFY_REPLACE", [S.SUFFIX])]})
        conn.unbind()

    check_scope_and_roles(workspace, {n: f"u{n:06d}" for n in range(1, 5)}, leave_team)
