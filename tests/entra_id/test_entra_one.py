"""One user read alone (ReadRequest.only, SPEC §18 `explain` and `sync --only`) through the real
MSAL and requests: `GET /v1.0/users/{id}` with the delta read's `$select` and no users listing,
404 `Request_ResourceNotFound` as nobody, a key that is not an object id (or a tenant with a
`filter`) read as the whole directory; the user read alone is the same, groups included, as in
the whole read."""

from __future__ import annotations

from sync.model import PROFILE_ATTRIBUTES
from sync.sources.base import ReadRequest
from sync.sources.settings import EntraIdSourceSettings
from tests.conftest import Workspace
from tests.entra_id.conftest import entra_keys
from tests.entra_id.emulator import EntraEmulator
from tests.entra_id.test_entra_groups import SALES, STAFF, directory
from tests.entra_id.test_entra_source import read_all, uid
from tests.support.explained import explain

GROUPS = frozenset({STAFF, SALES})
MISSING = "99999999-9999-4999-8999-999999999999"


def one(key: str | None) -> ReadRequest:
    return ReadRequest(frozenset(PROFILE_ATTRIBUTES), groups=GROUPS, only=key)


def user_paths(emulator: EntraEmulator) -> list[str]:
    """The paths of the users requests made (not the token's, nor the groups')."""
    return [path for _, path, _ in emulator.requests if path.startswith("/v1.0/users")]


def test_a_user_by_id_is_one_request_and_the_same_user_as_in_the_whole_read(
    emulator: EntraEmulator, settings: EntraIdSourceSettings
) -> None:
    directory(emulator)
    whole, _ = read_all(settings, one(None))
    [from_whole] = [u for p in whole for u in p.users if u.source_id == uid(3)]
    delta = next(q for _, path, q in emulator.requests if path == "/v1.0/users/delta")
    emulator.requests.clear()

    pages, result = read_all(settings, one(uid(3)))

    assert [u for p in pages for u in p.users] == [from_whole]
    assert from_whole.groups == GROUPS  # nested: Sales holds Team, which holds user 3
    assert (result.full, result.watermark) == (False, None)  # partial: nobody is gone
    assert user_paths(emulator) == [f"/v1.0/users/{uid(3)}"]
    [query] = [q for _, path, q in emulator.requests if path == f"/v1.0/users/{uid(3)}"]
    assert query == {"$select": delta["$select"]}  # the same fields as the delta read


def test_an_unknown_id_is_nobody_after_one_request(
    emulator: EntraEmulator, settings: EntraIdSourceSettings
) -> None:
    directory(emulator)
    pages, result = read_all(settings, one(MISSING))

    assert [p for p in pages if p.users or p.issues] == []
    assert result.full is False
    assert user_paths(emulator) == [f"/v1.0/users/{MISSING}"]


def test_a_key_that_is_not_an_object_id_or_a_filtered_tenant_reads_everyone(
    emulator: EntraEmulator, settings: EntraIdSourceSettings
) -> None:
    directory(emulator)
    read_all(settings, one("user3@contoso.onmicrosoft.com"))
    assert set(user_paths(emulator)) == {"/v1.0/users/delta"}
    emulator.requests.clear()
    filtered = EntraIdSourceSettings.model_validate(
        entra_keys(emulator, filter="department eq 'Sales'")
    )
    read_all(filtered, one(uid(3)))
    assert set(user_paths(emulator)) == {"/v1.0/users"}


def test_explain_and_only_read_the_user_alone(
    workspace: Workspace, emulator: EntraEmulator
) -> None:
    workspace.tenant["source"] = entra_keys(emulator)
    workspace.configure()
    assert workspace.sync()["counts"]["created"] == 7
    emulator.update(uid(2), surname="Renamed")
    emulator.update(uid(1), surname="Other")
    emulator.requests.clear()

    told = explain(workspace, uid(2))
    assert (told["action"], told["source_id"]) == ("update", uid(2))
    assert "this person's entry alone" in told["read"]
    assert user_paths(emulator) == [f"/v1.0/users/{uid(2)}"]

    emulator.requests.clear()
    report = workspace.sync("--only", uid(2))
    assert (report["on_demand"], report["full"]) == (True, False)
    assert (report["source"]["users_read"], report["counts"]["updated"]) == (1, 1)
    assert user_paths(emulator) == [f"/v1.0/users/{uid(2)}"]
    accounts = workspace.accounts()
    assert (accounts["user2"]["family_name"], accounts["user1"]["family_name"]) == (
        "Renamed",
        "Sur1",
    )

    emulator.requests.clear()
    emulator.delete(uid(5))
    gone = workspace.sync("--only", uid(5))  # the account names them; the directory: nobody
    assert (gone["source"]["users_read"], gone["counts"]["disabled"]) == (0, 0)
    assert user_paths(emulator) == [f"/v1.0/users/{uid(5)}"]
