"""A push is a directory change, not a back door (SPEC §17): the tenant's ordinary run follows
once pushes settle, with its names, invitations, scope, roles and guards."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Workspace
from tests.scim.conftest import GROUP, PATCH_OP, Scim, open_scim, scim_tenant, wait_for


def _changes(workspace: Workspace) -> list[dict[str, Any]]:
    listed = workspace.cli("changes", "list", "--tenant", "acme", "--json")
    assert listed.code == 0, listed.err
    found: list[dict[str, Any]] = json.loads(listed.out)
    return found


def test_pushed_people_get_accounts_and_invitations_named_by_username(
    workspace: Workspace,
) -> None:
    tenant = scim_tenant("acme", account_name_source="custom", custom_template="{user_name}")
    with open_scim(workspace, tenant) as scim:
        for n in range(3):
            scim.create(f"p{n}", emails=[{"value": f"p{n}@example.com", "type": "work"}])
        wait_for(lambda: len(workspace.emails()) == 3)
        accounts = scim.accounts()
        assert sorted(accounts) == ["p0", "p1", "p2"]
        assert accounts["p1"]["primary_email"] == "p1@example.com"
        assert accounts["p1"]["employee_code"] == "E-p1"
        assert accounts["p1"]["given_name"] == "G-p1"


def test_a_push_disabling_200_of_300_is_answered_and_held_as_a_change_set(
    workspace: Workspace,
) -> None:
    # a settle time long enough that the whole burst of PATCHes is one run
    with open_scim(workspace, scim_tenant("acme", source={"scim_settle_seconds": 5})) as scim:
        ids = [scim.create(f"u{n:03d}@example.com")["id"] for n in range(300)]
        wait_for(lambda: len(scim.accounts()) == 300, timeout=120)
        off = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
        for user_id in ids[:200]:
            answered = scim.call("PATCH", f"/Users/{user_id}", off)
            assert answered.status_code == 200, answered.text
        wait_for(lambda: any(c["status"] == "pending" for c in _changes(workspace)), 120)
        held = [c for c in _changes(workspace) if c["status"] == "pending"]
        assert [(c["kind"], c["count"]) for c in held] == [("disable", 200)]
        statuses = [a["status"] for a in scim.accounts().values()]
        assert statuses.count("active") == 300


def test_groups_give_scope_and_roles_by_display_name(workspace: Workspace) -> None:
    tenant = scim_tenant(
        "acme",
        scope={"groups": ["Sales"]},
        roles=[{"group": "Admins", "role": "system_admin"}],
    )
    with open_scim(workspace, tenant) as scim:
        ids = [scim.create(f"m{n}@example.com")["id"] for n in range(3)]
        sales = _group(scim, "Sales", ids[:2])
        _group(scim, "Admins", ids[1:2])
        wait_for(lambda: len(scim.accounts()) == 2)
        accounts = scim.accounts()
        assert accounts["m1@example.com"]["role"] == "system_admin"
        assert accounts["m0@example.com"]["role"] == "none"
        # Entra's "remove members" PATCH: a value list under path "members"
        remove = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"value": ids[0]}]}],
        }
        assert scim.call("PATCH", f"/Groups/{sales}", remove).status_code == 200
        wait_for(lambda: scim.accounts()["m0@example.com"]["status"] == "disabled")
        # a named group deleted by the identity provider fails the run, naming it
        assert scim.call("DELETE", f"/Groups/{sales}").status_code == 204
        wait_for(lambda: "Sales" in (_runs(workspace)[0].get("error") or ""))
        assert _runs(workspace)[0]["status"] == "failed"
        assert scim.accounts()["m1@example.com"]["status"] == "active"


def _runs(workspace: Workspace) -> list[dict[str, Any]]:
    listed = workspace.cli("runs", "list", "--tenant", "acme", "--json")
    assert listed.code == 0, listed.err
    found: list[dict[str, Any]] = json.loads(listed.out)
    return found


def _group(scim: Scim, name: str, members: list[str]) -> str:
    body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
    created = scim.call("POST", "/Groups", body)
    assert created.status_code == 201, created.text
    group_id: str = created.json()["id"]
    return group_id
