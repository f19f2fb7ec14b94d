"""Users over SCIM (SPEC §17): create, read, filter, page, replace, patch, delete, and the
refusals an identity provider must be able to read (status and scimType)."""

from __future__ import annotations

import json

from tests.conftest import Workspace
from tests.scim.conftest import PATCH_OP, Scim, open_scim, scim_tenant, user_body


def _filter(scim: Scim, expression: str, **params: str) -> dict[str, object]:
    response = scim.call("GET", "/Users", params={"filter": expression, **params})
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


def test_a_pushed_user_is_served_back_with_the_id_the_server_gave(scim: Scim) -> None:
    created = scim.create("taro@example.com", externalId="ext-1", unknownAttribute={"x": 1})
    assert created["id"] and created["userName"] == "taro@example.com"
    assert "unknownAttribute" not in created  # ignored, not fatal (RFC 7644 §3.3)
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["location"].endswith(f"/scim/v2/acme/Users/{created['id']}")
    got = scim.call("GET", f"/Users/{created['id']}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/scim+json")
    assert got.json()["externalId"] == "ext-1"
    assert scim.call("GET", "/Users/no-such-id").status_code == 404


def test_filters_on_username_externalid_id_and_work_email_and_paging(scim: Scim) -> None:
    ids = [scim.create(f"user{n}@example.com", externalId=f"x{n}")["id"] for n in range(5)]
    by_name = _filter(scim, 'userName eq "USER3@example.com"')  # without regard to case
    assert by_name["totalResults"] == 1 and by_name["Resources"][0]["id"] == ids[3]  # type: ignore[index]
    assert _filter(scim, f'id eq "{ids[1]}" and externalId eq "x1"')["totalResults"] == 1
    assert _filter(scim, f'id eq "{ids[1]}" and externalId eq "x2"')["totalResults"] == 0
    work = _filter(scim, 'emails[type eq "work"].value eq "user4@example.com"')
    assert work["Resources"][0]["id"] == ids[4]  # type: ignore[index]
    page = scim.call("GET", "/Users", params={"startIndex": "2", "count": "2"}).json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    bad = scim.call("GET", "/Users", params={"filter": 'userName eq "x" and'})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
    assert bad.json()["status"] == "400"


def test_a_taken_username_and_the_same_post_twice_are_409_uniqueness(scim: Scim) -> None:
    body = user_body("hana@example.com")
    assert scim.call("POST", "/Users", body).status_code == 201
    again = scim.call("POST", "/Users", body)
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
    other_case = scim.call("POST", "/Users", user_body("HANA@example.com"))
    assert other_case.status_code == 409
    assert _filter(scim, 'userName eq "hana@example.com"')["totalResults"] == 1


def test_put_without_active_keeps_it_and_patch_takes_every_shape(scim: Scim) -> None:
    user = scim.create("ken@example.com")
    path = f"/Users/{user['id']}"
    off = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "value": {"active": "False"}}]}
    assert scim.call("PATCH", path, off).json()["active"] is False
    body = user_body("ken@example.com", displayName="Ken Renamed")
    del body["active"]
    replaced = scim.call("PUT", path, body).json()
    assert replaced["active"] is False and replaced["displayName"] == "Ken Renamed"
    on = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    assert scim.call("PATCH", path, on).json()["active"] is True
    add = {"schemas": [PATCH_OP], "Operations": [{"op": "ADD", "path": "nickName", "value": "K"}]}
    assert scim.call("PATCH", path, add).json()["nickName"] == "K"
    remove = {"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "nickName"}]}
    assert "nickName" not in scim.call("PATCH", path, remove).json()
    taken = scim.create("other@example.com")
    rename = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "userName", "value": "Other@example.com"}],
    }
    refused = scim.call("PATCH", path, rename)
    assert refused.status_code == 409 and refused.json()["scimType"] == "uniqueness", taken
    immutable = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "id", "value": "x"}],
    }
    assert scim.call("PATCH", path, immutable).json()["scimType"] == "mutability"


def test_delete_answers_204_hides_the_user_and_frees_the_name(scim: Scim) -> None:
    user = scim.create("gone@example.com")
    deleted = scim.call("DELETE", f"/Users/{user['id']}")
    assert deleted.status_code == 204
    assert scim.call("GET", f"/Users/{user['id']}").status_code == 404
    assert scim.call("DELETE", f"/Users/{user['id']}").status_code == 404
    assert scim.create("gone@example.com")["id"] != user["id"]


def test_bad_bodies_and_tokens_are_refused_with_scim_errors(scim: Scim) -> None:
    malformed = scim.client.post(f"{scim.base}/Users", content=b"{not json", headers=scim.headers())
    assert malformed.status_code == 400 and malformed.json()["scimType"] == "invalidSyntax"
    no_name = scim.call("POST", "/Users", {"schemas": user_body("a@b.c")["schemas"]})
    assert no_name.status_code == 400 and no_name.json()["scimType"]
    huge = json.dumps(user_body("big@example.com", displayName="x" * (1024 * 1024)))
    too_large = scim.client.post(f"{scim.base}/Users", content=huge, headers=scim.headers())
    assert too_large.status_code == 413
    assert scim.call("GET", "/Users", token=scim.tokens["globex"]).status_code == 401
    anonymous = scim.client.get(f"{scim.base}/Users")
    assert anonymous.status_code == 401 and anonymous.json()["status"] == "401"
    assert scim.call("GET", "/Users", token="not-a-token").status_code == 401
    assert _filter(scim, 'userName eq "big@example.com"')["totalResults"] == 0


def test_a_rotated_token_replaces_the_old_one(scim: Scim) -> None:
    old = scim.tokens["acme"]
    rotated = scim.workspace.cli("tenants", "scim-token", "acme")
    assert rotated.code == 0 and rotated.out.strip() != old
    assert old not in rotated.err
    assert scim.call("GET", "/Users", token=old).status_code == 401
    assert scim.call("GET", "/Users", token=rotated.out.strip()).status_code == 200
    refused = scim.workspace.cli("tenants", "scim-token", "nobody")
    assert refused.code == 2 and "nobody" in refused.err


def test_each_token_has_its_own_rate_limit(workspace: Workspace) -> None:
    limited = scim_tenant("acme", source={"scim_requests_per_minute": 3})
    with open_scim(workspace, limited, scim_tenant("globex")) as scim:
        for _ in range(3):
            assert scim.call("GET", "/Users").status_code == 200
        refused = scim.call("GET", "/Users")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        scim.tenant = "globex"  # another token, its own count
        assert scim.call("GET", "/Users").status_code == 200
