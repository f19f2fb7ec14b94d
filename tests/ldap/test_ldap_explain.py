"""`explain` and `sync --only` against a real slapd (SPEC §18), on SQLite and PostgreSQL: the
person's entry is read alone (by entryUUID, or by DN through entryDN), and explain agrees with
the full run that follows: a scope exclusion, a role from a nested group, a suffix against a
stored name, a missing attribute."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace
from tests.ldap.conftest import MakeSlapd
from tests.support import slapd as S
from tests.support.explained import check_explain_then_run, explain, steps

PASSWORD_ENV = "ACME_LDAP_PASSWORD"
STAFF, ADMINS = (f"cn={cn},{S.GROUPS}" for cn in ("Staff", "Admins"))


def uid(index: int) -> str:
    return str(S.person_uuid(index))


@pytest.fixture
def server(workspace: Workspace, make_slapd: MakeSlapd, monkeypatch: pytest.MonkeyPatch) -> S.Slapd:
    """Six people, 1-5 in Staff; person 4 in Admins (nested in Staff); one run made."""
    monkeypatch.setenv(PASSWORD_ENV, S.SYNC_PW)
    slapd = make_slapd(
        [
            *S.people(6),
            S.groups_ou(),
            S.group_entry("Staff", [*(S.person_dn(n) for n in (1, 2, 3, 5)), ADMINS]),
            S.group_entry("Admins", [S.person_dn(4)]),
        ]
    )
    workspace.tenant["source"] = {
        "kind": "ldap",
        "url": slapd.url,
        "bind_dn": S.SYNC_DN,
        "password_env": PASSWORD_ENV,
        "base_dn": S.PEOPLE,
        "retry_seconds": 0,
    }
    workspace.configure(
        scope={"groups": [STAFF]}, roles=[{"group": ADMINS, "role": "system_admin"}]
    )
    assert workspace.sync()["counts"]["created"] == 5
    return slapd


def test_explain_reads_one_entry_and_agrees_with_the_run(
    workspace: Workspace, server: S.Slapd
) -> None:
    conn = server.admin()
    conn.modify(STAFF, {"member": [("MODIFY_DELETE", [S.person_dn(2)])]})  # leaves the scope
    conn.modify(S.person_dn(3), {"mail": [("MODIFY_REPLACE", ["u000001@other.example"])]})
    conn.modify(S.person_dn(5), {"mail": [("MODIFY_DELETE", [])]})  # no address any more
    conn.modify(STAFF, {"member": [("MODIFY_ADD", [S.person_dn(6)])]})  # joins: new account
    conn.unbind()
    told = check_explain_then_run(
        workspace,
        {
            uid(1): "U000001",  # the account's name, any case
            uid(2): uid(2).upper(),  # the source id
            uid(3): S.person_dn(3).upper(),  # the DN, read by entryDN
            uid(4): "E000004",  # the employee code
            uid(5): "u000005",
            uid(6): "u000006@example.com",  # no account: found in the directory
        },
    )
    assert {n: told[uid(n)]["action"] for n in range(1, 7)} == {
        1: "unchanged",
        2: "disable",
        3: "update+rename",
        4: "unchanged",
        5: "issue",
        6: "create",
    }
    assert all("this person's entry alone" in t["read"] for t in told.values())
    assert steps(told[uid(2)], "scope") == [f"out of scope: a member of none of {STAFF}"]
    assert steps(told[uid(4)], "role") == [f"role system_admin, from group {ADMINS}; unchanged"]
    assert steps(told[uid(3)], "collision") == [
        "'u000001' is taken by u000001: suffixed to 'u000001-2'"
    ]
    assert steps(told[uid(5)], "issue") == [
        "missing_attribute: primary_email (account u000005 left unchanged)"
    ]
    [read] = steps(told[uid(6)], "read")
    assert read.startswith(f"source id '{uid(6)}': active=True, primary_email='u000006@")
    assert read.endswith(f"dn='{S.person_dn(6)}'")


def test_only_reads_one_entry_by_dn(workspace: Workspace, server: S.Slapd) -> None:
    conn = server.admin()
    conn.modify(S.person_dn(1), {"displayName": [("MODIFY_REPLACE", ["One"])]})
    conn.modify(S.person_dn(2), {"displayName": [("MODIFY_REPLACE", ["Two"])]})
    conn.unbind()
    report = workspace.sync("--only", S.person_dn(1))
    assert report["source"]["users_read"] == 1  # the filter read that entry alone
    assert (report["on_demand"], report["counts"]["updated"]) == (True, 1)
    accounts = workspace.accounts()
    assert (accounts["u000001"]["display_name"], accounts["u000002"]["display_name"]) == (
        "One",
        "Given2 Family2",
    )
    assert explain(workspace, "u000002")["action"] == "update"
    by_id = workspace.sync("--only", uid(2))
    assert (by_id["source"]["users_read"], by_id["counts"]["updated"]) == (1, 1)
