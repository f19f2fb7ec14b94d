"""Group membership (SPEC §13) from Google Workspace through the real google-api-python-client:
`members.list` with derived membership (nested groups), paged, the group-membership scope asked
only when groups are named, and a group that does not exist named in a failed read."""

from __future__ import annotations

import pytest

from sync.errors import SourceUnavailable, StopRun
from sync.sources.base import ReadRequest
from sync.sources.settings import GoogleWorkspaceSourceSettings
from tests.google_workspace.google_emulator import GROUP_SCOPE, SCOPE, GoogleEmulator, make_user
from tests.google_workspace.test_google_source import read_all

STAFF, SALES, TEAM = "staff@example.com", "sales@example.com", "team@example.com"


def directory(emulator: GoogleEmulator) -> None:
    emulator.users = [make_user(n) for n in range(1, 251)]
    members = [f"user{n:05d}@example.com" for n in range(1, 221)]  # two pages of 200
    emulator.groups = {
        STAFF: ["user00001@example.com", SALES],
        SALES: ["user00002@example.com", TEAM],
        TEAM: [*members[2:], SALES],  # a cycle back to Sales
        "other@example.com": ["user00249@example.com"],
    }


def groups_of(settings: GoogleWorkspaceSourceSettings, *asked: str) -> dict[int, set[str]]:
    request = ReadRequest(frozenset({"primary_email"}), groups=frozenset(asked))
    pages, result = read_all(settings, request)
    assert result.full
    return {int(u.source_id[2:]): set(u.groups) for p in pages for u in p.users}


def test_derived_membership_spelt_as_requested(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    directory(emulator)
    asked_staff = "Staff@Example.com"
    by_user = groups_of(settings, asked_staff, SALES)

    assert by_user[1] == {asked_staff}
    assert by_user[2] == by_user[3] == by_user[220] == {asked_staff, SALES}
    assert by_user[221] == by_user[249] == set()
    # every members.list asked for derived membership; Team's members took two pages
    assert {params["includeDerivedMembership"] for _, params in emulator.member_requests} == {
        "true"
    }
    assert sum(1 for _, params in emulator.member_requests if "pageToken" in params) == 2
    assert emulator.token_claims[-1]["scope"] == f"{SCOPE} {GROUP_SCOPE}"


def test_without_groups_no_membership_is_read(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    directory(emulator)
    assert all(not groups for groups in groups_of(settings).values())
    assert emulator.member_requests == []
    assert emulator.token_claims[-1]["scope"] == SCOPE  # no wider scope than needed


def test_a_group_that_does_not_exist_fails_the_read(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    directory(emulator)
    with pytest.raises(StopRun, match=r"Google group nobody@example\.com does not exist"):
        groups_of(settings, STAFF, "nobody@example.com")


def test_a_service_account_without_the_group_scope_is_told_which(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    directory(emulator)
    emulator.group_scope_granted = False
    with pytest.raises(SourceUnavailable, match=f"domain-wide delegation for {GROUP_SCOPE}"):
        groups_of(settings, STAFF)


def test_a_group_holding_the_whole_organisation_holds_everyone(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    directory(emulator)
    emulator.groups["all@example.com"] = ["customer"]
    by_user = groups_of(settings, "all@example.com", "other@example.com")
    assert by_user[1] == by_user[250] == {"all@example.com"}
    assert by_user[249] == {"all@example.com", "other@example.com"}
