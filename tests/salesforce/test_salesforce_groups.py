"""Group membership (SPEC §13) from Salesforce public groups through simple-salesforce: named by
API name (DeveloperName), nested public groups resolved (cycles included), GroupMember read a
level at a time and paged, a name no public group has named in a failed read, and delta reads
with groups reading everyone."""

from __future__ import annotations

import pytest

from sync.errors import StopRun
from sync.sources.base import ReadRequest
from sync.sources.settings import SalesforceSourceSettings
from tests.salesforce.emulator import SalesforceEmulator
from tests.salesforce.helpers import read_all

STAFF, SALES, TEAM, ROLE = (f"00G{n:015d}" for n in (1, 2, 3, 4))


def user_id(n: int) -> str:
    return f"005{n:015d}"


def directory(emulator: SalesforceEmulator) -> None:
    emulator.groups = [
        {"Id": STAFF, "DeveloperName": "Staff", "Type": "Regular"},
        {"Id": SALES, "DeveloperName": "Sales_Team", "Type": "Regular"},
        {"Id": TEAM, "DeveloperName": "Team", "Type": "Regular"},
        {"Id": ROLE, "DeveloperName": "CEO", "Type": "Role"},  # not a public group
    ]
    rows = [
        (STAFF, user_id(1)),
        (STAFF, SALES),
        (STAFF, ROLE),
        (SALES, user_id(2)),
        (SALES, TEAM),
        (TEAM, user_id(3)),
        (TEAM, user_id(4)),
        (TEAM, user_id(6)),
        (TEAM, SALES),  # a cycle back to Sales
    ]
    emulator.group_members = [
        {"Id": f"011{n:015d}", "GroupId": g, "UserOrGroupId": m} for n, (g, m) in enumerate(rows)
    ]


def groups_of(
    settings: SalesforceSourceSettings, *asked: str, since: str | None = None
) -> tuple[dict[int, set[str]], bool]:
    request = ReadRequest(frozenset({"primary_email"}), since=since, groups=frozenset(asked))
    pages, result = read_all(settings, request)
    found = {int(u.source_id[3:]): set(u.groups) for p in pages for u in p.users}
    return found, result.full


def test_nested_public_groups_spelt_as_requested(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    directory(emulator)
    found, full = groups_of(settings, "staff", "Sales_Team")
    assert full
    assert found[1] == {"staff"}
    assert found[2] == found[3] == found[6] == {"staff", "Sales_Team"}
    assert found[7] == set()
    member_queries = [q for q in emulator.queries if "FROM GroupMember" in q]
    # Staff: three levels (Staff; Sales and the role; Team); Sales: two (Sales; Team)
    assert len(member_queries) == 5
    assert all(q.startswith("SELECT GroupId, UserOrGroupId") for q in member_queries)


def test_a_group_no_public_group_has_fails_the_read(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    directory(emulator)
    with pytest.raises(StopRun, match="Salesforce public group CEO does not exist"):
        groups_of(settings, "Staff", "CEO")  # a role's group is not a public group


def test_without_groups_no_group_is_read(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    directory(emulator)
    found, _ = groups_of(settings)
    assert not any(found.values())
    assert not any("Group" in q for q in emulator.queries)


def test_a_delta_read_with_groups_reads_everyone(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    directory(emulator)
    request = ReadRequest(frozenset({"primary_email"}), groups=frozenset({"Staff"}))
    _, first = read_all(settings, request)
    emulator.group_members = [m for m in emulator.group_members if m["UserOrGroupId"] != user_id(6)]

    found, full = groups_of(settings, "Staff", since=first.watermark)
    assert found[6] == set() and found[4] == {"Staff"} and full
    assert len(found) == 7
