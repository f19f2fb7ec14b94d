"""The requests Microsoft Entra ID and Okta send, replayed as their documentation shows them
(learn.microsoft.com "use-scim-to-provision-users-and-groups" and
"application-provisioning-config-problem-scim-compatibility"; developer.okta.com "SCIM 2.0
protocol"): every one answered as those clients expect, its effect visible in the directory."""

from __future__ import annotations

from typing import Any

from tests.scim.conftest import CORE_USER, ENTERPRISE, GROUP, PATCH_OP, Scim, wait_for

ENTRA_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def _ok(scim: Scim, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    response = scim.call(method, path, body)
    assert response.status_code == status, f"{method} {path}: {response.text}"
    return response.json() if response.content else None


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def test_entra_id_user_and_group_requests(scim: Scim) -> None:
    name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    query = f'/Users?filter=userName eq "{name}"'
    assert _ok(scim, "GET", query)["totalResults"] == 0
    created = _ok(
        scim, "POST", "/Users",
        {
            "schemas": [CORE_USER, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": name,
            "active": True,
            "emails": [
                {
                    "primary": True,
                    "type": "work",
                    "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
                }
            ],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName",
            },
            "roles": [],
        },
        201,
    )  # fmt: skip
    path = f"/Users/{created['id']}"
    assert _ok(scim, "GET", query)["Resources"][0]["id"] == created["id"]
    updated = _ok(
        scim, "PATCH", path,
        _patch(
            {"op": "Replace", "path": 'emails[type eq "work"].value',
             "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        ),
    )  # fmt: skip
    assert updated["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert updated["name"]["familyName"] == "updatedFamilyName"
    renamed = _ok(
        scim, "PATCH", path,
        _patch({"op": "Replace", "path": "userName",
                "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}),
    )  # fmt: skip
    assert renamed["userName"] == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    employee = _patch({"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "701984"})
    assert _ok(scim, "PATCH", path, employee)[ENTERPRISE]["employeeNumber"] == "701984"
    # the manager as Entra's default mapping sends it: the id alone
    boss = _patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "26118915-6090"})
    assert _ok(scim, "PATCH", path, boss)[ENTERPRISE]["manager"]["value"] == "26118915-6090"
    # the compatibility page: booleans as strings, with and without a path
    assert (
        _ok(scim, "PATCH", path, _patch({"op": "Replace", "path": "active", "value": "False"}))[
            "active"
        ]
        is False
    )
    enable = _patch({"op": "Replace", "value": {"active": "True"}})
    assert _ok(scim, "PATCH", path, enable)["active"] is True
    disable = _patch({"op": "Replace", "path": "active", "value": False})
    assert _ok(scim, "PATCH", path, disable)["active"] is False

    group = _ok(
        scim, "POST", "/Groups",
        {
            "schemas": [GROUP, ENTRA_GROUP_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
        },
        201,
    )  # fmt: skip
    group_path = f"/Groups/{group['id']}"
    assert "members" not in _ok(scim, "GET", f"{group_path}?excludedAttributes=members")
    found = _ok(
        scim, "GET", '/Groups?excludedAttributes=members&filter=displayName eq "displayName"'
    )
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    new_name = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    _ok(
        scim,
        "PATCH",
        group_path,
        _patch({"op": "Replace", "path": "displayName", "value": new_name}),
    )
    member = {"$ref": None, "value": created["id"]}
    _ok(scim, "PATCH", group_path, _patch({"op": "Add", "path": "members", "value": [member]}))
    listed = _ok(scim, "GET", group_path)
    assert listed["displayName"] == new_name
    assert [m["value"] for m in listed["members"]] == [created["id"]]
    _ok(scim, "PATCH", group_path, _patch({"op": "Remove", "path": "members", "value": [member]}))
    assert not _ok(scim, "GET", group_path).get("members")
    _ok(scim, "DELETE", group_path, status=204)
    _ok(scim, "DELETE", path, status=204)
    assert scim.call("GET", path).status_code == 404


def test_okta_user_and_group_requests(scim: Scim) -> None:
    query = '/Users?filter=userName eq "test.user@okta.local"&startIndex=1&count=100'
    assert _ok(scim, "GET", query)["totalResults"] == 0
    okta_user = {
        "schemas": [CORE_USER],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    created = _ok(scim, "POST", "/Users", okta_user, 201)
    assert "password" not in created
    path = f"/Users/{created['id']}"
    fetched = _ok(scim, "GET", path)
    # GET, then a full PUT; some Okta apps leave `active` out of it
    renamed = {"givenName": "Another", "middleName": "Test", "familyName": "User"}
    replacement = {**fetched, "name": renamed, "displayName": "Another Test User"}
    del replacement["active"]
    _ok(scim, "PATCH", path, _patch({"op": "replace", "value": {"active": False}}))
    replaced = _ok(scim, "PUT", path, replacement)
    assert replaced["active"] is False and replaced["name"]["givenName"] == "Another"
    reactivated = _ok(scim, "PATCH", path, _patch({"op": "replace", "value": {"active": True}}))
    assert reactivated["active"] is True
    assert _ok(scim, "PUT", path, replacement)["active"] is True

    group = _ok(scim, "POST", "/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2",
                                          "members": []}, 201)  # fmt: skip
    group_path = f"/Groups/{group['id']}"
    rename = {"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2 Renamed"}}
    assert _ok(scim, "PATCH", group_path, _patch(rename))["displayName"] == "Test SCIMv2 Renamed"
    add = {"op": "add", "path": "members",
           "value": [{"value": created["id"], "display": "test.user@okta.local"}]}  # fmt: skip
    assert len(_ok(scim, "PATCH", group_path, _patch(add))["members"]) == 1
    remove = {"op": "remove", "path": f'members[value eq "{created["id"]}"]'}
    assert not _ok(scim, "PATCH", group_path, _patch(remove)).get("members")
    _ok(scim, "DELETE", group_path, status=204)

    def replaced_in_the_account() -> bool:  # a run may have come between pushes: the last one
        account = scim.accounts().get("test.user@okta.local", {})
        return account.get("given_name") == "Another" and account["status"] == "active"

    wait_for(replaced_in_the_account)
