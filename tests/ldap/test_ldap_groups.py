"""Group membership for scope and roles (SPEC §13) on a real slapd: groupOfNames and
groupOfUniqueNames, nesting (cycles included), DNs compared as LDAP compares them, a group that
does not exist, and delta reads that see membership changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sync.errors import StopRun
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request

STAFF = f"cn=Staff,{S.GROUPS}"
SALES = f"cn=Sales,{S.GROUPS}"
TEAM = f"cn=Team,{S.GROUPS}"
OTHER = f"cn=Other,{S.GROUPS}"
# as an administrator may write them: other case, spaces after the commas
STAFF_ASKED = "CN=Staff,OU=Groups,DC=example,DC=com"
OTHER_ASKED = "cn=Other, ou=groups, dc=example, dc=com"


def directory() -> list[str]:
    return [
        *S.people(6),
        S.groups_ou(),
        S.group_entry("Staff", [S.person_dn(1), SALES]),
        S.group_entry("Sales", [S.person_dn(2), TEAM], unique=True),
        S.group_entry("Team", [S.person_dn(3), STAFF]),  # a cycle back to Staff
        S.group_entry("Other", [S.person_dn(4), S.person_dn(1)]),
    ]


def groups_by_person(users: list) -> dict[int, set[str]]:  # type: ignore[type-arg]
    ids = {str(S.person_uuid(i)): i for i in range(1, 7)}
    return {ids[u.source_id]: set(u.groups) for u in users}


def test_nested_membership_spelt_as_requested(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(directory())
    asked = replace(request("primary_email"), groups=frozenset({STAFF_ASKED, OTHER_ASKED}))
    read = collect(make_source(server).read(asked))

    assert groups_by_person(read.users) == {
        1: {STAFF_ASKED, OTHER_ASKED},
        2: {STAFF_ASKED},  # Sales is in Staff
        3: {STAFF_ASKED},  # Team is in Sales, in Staff
        4: {OTHER_ASKED},
        5: set(),
        6: set(),
    }
    assert read.result is not None and read.result.full


def test_a_group_named_two_ways_gives_both_spellings(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(directory())
    asked = replace(request("primary_email"), groups=frozenset({STAFF_ASKED, TEAM, STAFF}))
    users = groups_by_person(collect(make_source(server).read(asked)).users)
    # Staff, Sales and Team hold each other (a cycle): their members are in all three
    assert users[1] == users[2] == users[3] == {STAFF_ASKED, STAFF, TEAM}
    assert users[4] == set()


def test_a_group_that_does_not_exist_fails_the_run(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(directory())
    missing = f"cn=Nobody,{S.GROUPS}"
    asked = replace(request("primary_email"), groups=frozenset({STAFF, missing}))
    with pytest.raises(StopRun, match=f"group {missing} does not exist"):
        collect(make_source(server).read(asked))
    # a person's DN named by mistake has no members: everyone would be out of scope
    person = replace(asked, groups=frozenset({S.person_dn(1)}))
    with pytest.raises(StopRun, match=f"group {S.person_dn(1)} is not a group"):
        collect(make_source(server).read(person))


def test_without_groups_nothing_about_groups_is_read(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(directory(), debug_level=256)
    read = collect(make_source(server).read(request("primary_email")))
    assert all(u.groups == frozenset() for u in read.users)
    assert "ou=groups" not in server.log_text.lower()


def test_a_delta_read_with_groups_reads_everyone(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """Leaving a group changes the group's entry, not the person's: with groups requested, a
    delta read is a full one, so a leaver's membership is seen at once."""
    server = make_slapd(directory())
    source = make_source(server)
    first = collect(source.read(replace(request("primary_email"), groups=frozenset({OTHER}))))
    assert first.result is not None and first.result.watermark
    conn = server.admin()
    conn.modify(OTHER, {"member": [("MODIFY_DELETE", [S.person_dn(4)])]})
    conn.unbind()

    since = first.result.watermark
    delta = collect(
        source.read(replace(request("primary_email", since=since), groups=frozenset({OTHER})))
    )
    assert groups_by_person(delta.users)[4] == set()
    assert len(delta.users) == 6 and delta.result is not None and delta.result.full
    # without groups the same watermark reads only entries changed since (person 4's did not)
    plain = collect(source.read(request("primary_email", since=since)))
    assert 4 not in groups_by_person(plain.users) and len(plain.users) < 6


def test_groups_read_from_an_attribute_of_the_person(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """`[tenants.source.attributes] groups = "…"`: the person's own attribute holds group DNs
    (memberOf with slapd's memberof overlay, say; seeAlso here), no nesting is resolved, and each
    requested group must still exist."""
    server = make_slapd(directory())
    conn = server.admin()
    conn.modify(S.person_dn(5), {"seeAlso": [("MODIFY_ADD", [STAFF.upper(), SALES])]})
    conn.unbind()
    source = make_source(server, attributes={"groups": "seeAlso"})
    asked = replace(request("primary_email"), groups=frozenset({STAFF_ASKED, OTHER_ASKED}))
    users = groups_by_person(collect(source.read(asked)).users)
    assert users == {1: set(), 2: set(), 3: set(), 4: set(), 5: {STAFF_ASKED}, 6: set()}

    missing = f"cn=Nobody,{S.GROUPS}"
    with pytest.raises(StopRun, match=f"group {missing} does not exist"):
        collect(source.read(replace(asked, groups=frozenset({missing}))))
