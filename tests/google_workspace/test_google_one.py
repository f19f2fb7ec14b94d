"""One user read alone (ReadRequest.only, SPEC §18 `explain` and `sync --only`) through the real
google-api-python-client: one `users.get` with the listing's fields and projection and no
`users.list`, 404 `notFound` as nobody, an address or a tenant with `query`/`domain` read as the
whole listing; the user read alone is the same, groups included, as in the whole read."""

from __future__ import annotations

from pathlib import Path

from sync.model import PROFILE_ATTRIBUTES
from sync.sources.base import ReadRequest
from sync.sources.settings import GoogleWorkspaceSourceSettings
from tests.conftest import Workspace
from tests.google_workspace.conftest import google_keys
from tests.google_workspace.google_emulator import GoogleEmulator, make_user
from tests.google_workspace.test_google_groups import SALES, STAFF, directory
from tests.google_workspace.test_google_source import read_all
from tests.support.explained import explain

GROUPS = frozenset({STAFF, SALES})


def one(key: str | None) -> ReadRequest:
    return ReadRequest(frozenset(PROFILE_ATTRIBUTES), groups=GROUPS, only=key)


def gid(n: int) -> str:
    return str(make_user(n)["id"])


def test_a_user_by_id_is_one_get_and_the_same_user_as_in_the_whole_read(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    directory(emulator)
    whole, _ = read_all(settings, one(None))
    [from_whole] = [u for p in whole for u in p.users if u.source_id == gid(3)]
    listed = emulator.list_requests[0]
    emulator.list_requests.clear()

    pages, result = read_all(settings, one(gid(3)))

    assert [u for p in pages for u in p.users] == [from_whole]
    assert from_whole.groups == GROUPS  # nested: Sales holds Team, which holds user 3
    assert (result.full, result.watermark) == (False, None)  # partial: nobody is gone
    assert emulator.list_requests == []
    [(key, params)] = emulator.get_requests
    assert key == gid(3)
    assert f"nextPageToken,users({params['fields']})" == listed["fields"]  # the same fields


def test_an_unknown_id_is_nobody_after_one_get(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(n) for n in range(1, 4)]
    pages, result = read_all(settings, ReadRequest(frozenset(PROFILE_ATTRIBUTES), only="1234"))

    assert [p for p in pages if p.users or p.issues] == []
    assert result.full is False
    assert ([k for k, _ in emulator.get_requests], emulator.list_requests) == (["1234"], [])


def test_an_address_or_a_narrowed_tenant_reads_the_listing(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(n) for n in range(1, 4)]
    plain = ReadRequest(frozenset(PROFILE_ATTRIBUTES), only="user00002@example.com")
    read_all(settings, plain)
    narrowed = settings.model_copy(update={"query": "isSuspended=false"})
    read_all(narrowed, ReadRequest(frozenset(PROFILE_ATTRIBUTES), only=gid(2)))
    assert (len(emulator.list_requests), emulator.get_requests) == (2, [])


def test_explain_and_only_read_the_user_alone(
    workspace: Workspace, emulator: GoogleEmulator, key_file: Path
) -> None:
    emulator.users = [make_user(n) for n in range(1, 4)]
    workspace.tenant["source"] = google_keys(emulator, key_file)
    workspace.configure()
    assert workspace.sync()["counts"]["created"] == 3
    emulator.users[1]["name"] = {"givenName": "Given2", "familyName": "Renamed"}
    emulator.users[0]["name"] = {"givenName": "Given1", "familyName": "Other"}
    emulator.list_requests.clear()

    told = explain(workspace, gid(2))
    assert (told["action"], told["source_id"]) == ("update", gid(2))
    assert "this person's entry alone" in told["read"]
    assert ([k for k, _ in emulator.get_requests], emulator.list_requests) == ([gid(2)], [])

    emulator.get_requests.clear()
    report = workspace.sync("--only", gid(2))
    assert (report["on_demand"], report["full"]) == (True, False)
    assert (report["source"]["users_read"], report["counts"]["updated"]) == (1, 1)
    assert ([k for k, _ in emulator.get_requests], emulator.list_requests) == ([gid(2)], [])
    accounts = workspace.accounts()
    assert (accounts["user00002"]["family_name"], accounts["user00001"]["family_name"]) == (
        "Renamed",
        "Family1",
    )
