"""Full reads from a real slapd: paging, what is asked for, memory, the OpenLDAP dialect."""

from __future__ import annotations

import re
import tracemalloc

import pytest

from sync.model import DirectoryUser
from sync.sources import open_source
from sync.sources.ldap import LdapSource
from sync.sources.ldap import source as source_module
from sync.sources.settings import LdapSourceSettings
from tests.ldap.conftest import PASSWORD_ENV, MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request

PROFILE = ("primary_email", "emails", "employee_code", "given_name", "family_name", "display_name")


def test_reads_every_entry_over_several_pages(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(1050))
    read = collect(make_source(server, page_size=100).read(request(*PROFILE)))

    assert [len(page.users) for page in read.pages] == [100] * 10 + [50]
    assert {u.source_id for u in read.users} == {str(S.person_uuid(i)) for i in range(1, 1051)}
    assert read.result is not None and read.result.full
    assert read.result.stats["pages"] == 11
    assert read.result.stats["entries"] == 1050


def test_maps_the_openldap_attributes(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    server = make_slapd(S.people(3))
    users = collect(make_source(server).read(request(*PROFILE, "updated_at"))).by_id()

    assert users[str(S.person_uuid(2))] == DirectoryUser(
        source_id=str(S.person_uuid(2)),
        active=True,
        primary_email="u000002@example.com",
        emails=(),
        employee_code="E000002",
        given_name="Given2",
        family_name="Family2",
        display_name="Given2 Family2",
        updated_at="2024-01-01T00:02:00+00:00",  # the server's modifyTimestamp
        locator=(("dn", S.person_dn(2)),),  # what issues name the person by (SPEC §18)
    )


def test_asks_the_server_only_for_the_attributes_the_run_needs(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(2), debug_level=256)
    collect(make_source(server).read(request("primary_email", extra=("uid",))))

    # slapd logs each search as `SRCH base=...` then `SRCH attr=...` (the probe that waits for
    # slapd to start asks the root DSE, base "")
    asked = re.findall(r'SRCH base="ou=people[^\n]*\n[^\n]*SRCH attr=(.*)', server.log_text)
    # the id, the lock flag and the change time are always needed; then mail and the extra uid
    assert asked == ["entryUUID mail modifyTimestamp pwdAccountLockedTime uid"]


def test_memory_does_not_grow_with_the_directory(
    make_slapd: MakeSlapd, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a read holds up to SMALL_READ entries while it may still be small (SmallFirstReader),
    # then streams: here both reads pass it
    monkeypatch.setattr(source_module, "SMALL_READ", 100)
    small, large = make_slapd(S.people(200)), make_slapd(S.people(1600))

    def peak(server: S.Slapd) -> int:
        source = make_source(server, page_size=50)
        tracemalloc.start()
        try:
            for _page in source.read(request(*PROFILE)):
                pass  # a consumer that keeps nothing, as a streaming reader should
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak_small, peak_large = peak(small), peak(large)
    # eight times the people, about the same peak: one page of 50 in memory at a time
    assert peak_large < peak_small * 1.5, (peak_small, peak_large)


def test_a_locked_or_filtered_entry_is_inactive(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    left = S.openldap_person(4).replace("mail:", "employeeType: left\nmail:")
    server = make_slapd([*S.people(3), left, S.openldap_person(5, locked=True)])
    source = make_source(server, inactive_filter="(employeeType=left)", page_size=2)
    read = collect(source.read(request("primary_email")))

    active = {u.source_id: u.active for u in read.users}
    assert active == {
        **{str(S.person_uuid(i)): True for i in (1, 2, 3)},
        str(S.person_uuid(4)): False,  # matches inactive_filter
        str(S.person_uuid(5)): False,  # pwdAccountLockedTime
    }
    assert read.result is not None and read.result.full


def test_a_missing_attribute_is_left_empty_not_an_issue(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    no_mail = "".join(
        line + "\n" for line in S.openldap_person(7).splitlines() if not line.startswith("mail:")
    )
    server = make_slapd([no_mail])
    read = collect(make_source(server).read(request(*PROFILE)))

    assert [u.primary_email for u in read.users] == [None]
    assert read.issues == []


def test_attribute_map_overrides_the_dialect(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(2))
    overrides = {"employee_code": "uid", "display_name": "description, cn", "given_name": "sn"}
    source = make_source(server, attributes=overrides)
    users = collect(source.read(request("employee_code", "display_name", "given_name"))).by_id()

    first = users[str(S.person_uuid(1))]
    assert first.employee_code == "u000001"
    assert first.display_name == "Person 1"  # no description: the next one listed
    assert first.given_name == "Family1"


def test_works_as_a_lookup_source(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    """A lookup is read like a source: the provided attribute, addresses and a raw field."""
    server = make_slapd(S.people(2))
    source = make_source(server, attributes={"google_workspace_email": "mail"}, match_on="email")
    users = collect(
        source.read(request("google_workspace_email", "primary_email", extra=("uid",)))
    ).by_id()

    first = users[str(S.person_uuid(1))]
    assert first.google_workspace_email == "u000001@example.com"
    assert first.extra == (("uid", "u000001"),)


def test_the_registry_opens_the_ldap_source(
    make_slapd: MakeSlapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, S.SYNC_PW)
    server = make_slapd(S.people(1))
    settings = LdapSourceSettings(
        kind="ldap",
        url=server.url,
        bind_dn=S.SYNC_DN,
        password_env=PASSWORD_ENV,
        base_dn=S.PEOPLE,
    )
    source = open_source(settings)

    assert isinstance(source, LdapSource) and settings.full_sync_interval_hours == 24
    assert len(collect(source.read(request("primary_email"))).users) == 1
