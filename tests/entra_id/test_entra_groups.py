"""Group membership (SPEC §13) from Entra ID through the real MSAL and requests: a group's
transitive members (nested groups), paged by `@odata.nextLink`; a group id that does not exist,
or is not an id, named in a failed read; delta reads with groups read everyone."""

from __future__ import annotations

import pytest

from sync.errors import SourceUnavailable, StopRun
from sync.sources.base import ReadRequest
from sync.sources.settings import EntraIdSourceSettings
from tests.entra_id.emulator import EntraEmulator
from tests.entra_id.test_entra_source import read_all, uid, users

STAFF = "1111aaaa-1111-4111-8111-111111111111"
SALES = "2222bbbb-2222-4222-8222-222222222222"
TEAM = "33333333-3333-4333-8333-333333333333"
MISSING = "99999999-9999-4999-8999-999999999999"


def directory(emulator: EntraEmulator) -> None:
    emulator.permissions.add("GroupMember.Read.All")
    emulator.groups = {
        STAFF: [uid(1), SALES],
        SALES: [uid(2), TEAM],
        TEAM: [uid(3), uid(4), uid(5), uid(6), SALES],  # a cycle back to Sales
    }


def groups_of(settings: EntraIdSourceSettings, *asked: str, since: str | None = None) -> dict:  # type: ignore[type-arg]
    request = ReadRequest(frozenset({"primary_email"}), since=since, groups=frozenset(asked))
    pages, result = read_all(settings, request)
    return {n: set(users(pages)[uid(n)].groups) for n in range(1, 8)} | {"result": result}


def test_transitive_members_spelt_as_requested(
    settings: EntraIdSourceSettings, emulator: EntraEmulator
) -> None:
    directory(emulator)
    staff_upper = STAFF.upper()
    found = groups_of(settings, staff_upper, SALES)

    assert found[1] == {staff_upper}
    assert found[2] == found[3] == found[6] == {staff_upper, SALES}
    assert found[7] == set()
    # Staff's five users and Sales's five came in pages of three: two next links followed
    member_requests = [q for m, path, q in emulator.requests if "/transitiveMembers/" in path]
    assert len(member_requests) == 4
    assert member_requests[0] == {"$select": ["id"], "$top": ["999"], "$count": ["true"]}


def test_a_group_that_does_not_exist_fails_the_read(
    settings: EntraIdSourceSettings, emulator: EntraEmulator
) -> None:
    directory(emulator)
    with pytest.raises(StopRun, match=f"group {MISSING} does not exist"):
        groups_of(settings, STAFF, MISSING)
    with pytest.raises(StopRun, match="group Staff is not a group object id"):
        groups_of(settings, "Staff")


def test_without_the_group_permission_the_message_says_which(
    settings: EntraIdSourceSettings, emulator: EntraEmulator
) -> None:
    directory(emulator)
    emulator.permissions.discard("GroupMember.Read.All")
    with pytest.raises(SourceUnavailable, match=r"GroupMember\.Read\.All"):
        groups_of(settings, STAFF)


def test_a_delta_read_with_groups_reads_everyone(
    settings: EntraIdSourceSettings, emulator: EntraEmulator
) -> None:
    """Leaving a group is not a change users/delta reports: with groups, every read is full."""
    directory(emulator)
    first = groups_of(settings, STAFF)["result"]
    emulator.groups[TEAM].remove(uid(6))

    later = groups_of(settings, STAFF, since=first.watermark)
    assert later[6] == set() and later[5] == {STAFF}
    assert later["result"].full and later["result"].watermark
