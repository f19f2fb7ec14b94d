"""One crew read alone (ReadRequest.only, SPEC §18 `explain` and `sync --only`): `GET
/api/v1/crews/{id}` and nothing else, 404 `not_found` as nobody, a key that cannot be a crew id
read as the whole directory; the crew read alone is the same user as in the whole read."""

from __future__ import annotations

from sync.model import PROFILE_ATTRIBUTES
from sync.sources.base import ReadRequest
from sync.sources.settings import SmartHrSourceSettings
from tests.conftest import Workspace
from tests.smarthr.conftest import smarthr_keys
from tests.smarthr.emulator import CREWS_PATH, SmartHrEmulator, make_crew
from tests.smarthr.test_smarthr_source import read_all, with_keys
from tests.support.explained import explain

GROUPS = frozenset({"営業部"})


def one(key: str) -> ReadRequest:
    return ReadRequest(frozenset(PROFILE_ATTRIBUTES), groups=GROUPS, only=key)


def test_a_crew_by_id_is_one_request_and_the_same_user_as_in_the_whole_read(
    emulator: SmartHrEmulator, settings: SmartHrSourceSettings
) -> None:
    crew = emulator.crew(3)
    whole, _ = read_all(settings, ReadRequest(frozenset(PROFILE_ATTRIBUTES), groups=GROUPS))
    [from_whole] = [u for p in whole for u in p.users if u.source_id == crew["id"]]
    emulator.requests.clear()

    pages, result = read_all(settings, one(crew["id"]))

    assert [u for p in pages for u in p.users] == [from_whole]
    assert from_whole.groups == GROUPS  # membership read from the crew itself
    assert (result.full, result.watermark) == (False, None)  # partial: nobody is gone
    assert emulator.requests == [(f"{CREWS_PATH}/{crew['id']}", {})]


def test_an_unknown_id_is_nobody_after_one_request(
    emulator: SmartHrEmulator, settings: SmartHrSourceSettings
) -> None:
    pages, result = read_all(settings, one("0000-no-such-crew"))

    assert [p for p in pages if p.users or p.issues] == []
    assert result.full is False
    assert emulator.requests == [(f"{CREWS_PATH}/0000-no-such-crew", {})]


def test_a_key_that_cannot_be_a_crew_id_reads_the_whole_directory(
    emulator: SmartHrEmulator,
) -> None:
    settings = with_keys(emulator)
    read_all(settings, one("crew3@example.co.jp"))
    assert {path for path, _ in emulator.requests} == {CREWS_PATH}
    # a tenant whose source id is another field: its ids are not crew ids
    emulator.requests.clear()
    by_code = with_keys(emulator, attributes={"source_id": "emp_code"})
    read_all(by_code, one("E00003"))
    assert {path for path, _ in emulator.requests} == {CREWS_PATH}


def test_explain_and_only_read_the_crew_alone(
    workspace: Workspace, emulator: SmartHrEmulator
) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 4)]
    workspace.tenant.update(source=smarthr_keys(emulator))
    workspace.configure()
    assert workspace.sync()["counts"]["created"] == 3
    crew = emulator.crew(2)
    crew["business_last_name"] = "佐藤"
    emulator.crew(1)["business_last_name"] = "鈴木"
    emulator.requests.clear()

    told = explain(workspace, crew["id"])
    assert (told["action"], told["source_id"]) == ("update", crew["id"])
    assert "this person's entry alone" in told["read"]
    by_id: list[tuple[str, dict[str, list[str]]]] = [(f"{CREWS_PATH}/{crew['id']}", {})]
    assert emulator.requests == by_id  # the account names the person: one read

    emulator.requests.clear()
    report = workspace.sync("--only", crew["id"])
    assert (report["on_demand"], report["full"]) == (True, False)
    assert (report["source"]["users_read"], report["counts"]["updated"]) == (1, 1)
    assert emulator.requests == by_id
    accounts = workspace.accounts()
    assert (accounts["crew2"]["family_name"], accounts["crew1"]["family_name"]) == ("佐藤", "山田1")
