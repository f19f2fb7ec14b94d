"""Users over SCIM (SPEC §17): create, read, filter, page, replace, patch, delete, errors."""

from __future__ import annotations

from tests.scim.conftest import Scim


def test_a_pushed_user_is_served_back_with_the_id_the_server_gave(scim: Scim) -> None:
    created = scim.create("taro@example.com", externalId="ext-1")
    assert created["id"] and created["userName"] == "taro@example.com"
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["location"].endswith(f"/scim/v2/acme/Users/{created['id']}")
    got = scim.call("GET", f"/Users/{created['id']}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/scim+json")
    assert got.json()["externalId"] == "ext-1"
