"""Delta reads by the server's change times; full reads see deletions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ldap3 import MODIFY_REPLACE

from sync.errors import StopRun
from sync.sources.ldap.values import parse_generalized_time
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request

SERVER_SET = ("createTimestamp", "modifyTimestamp", "entryUUID")  # slapd sets them on add
NEWEST = S.OLD_TIME + timedelta(minutes=40)  # S.people(40) stamps person i at OLD_TIME + i min


def _uid(index: int) -> str:
    return f"uid=u{index:06d},{S.PEOPLE}"


def test_delta_sees_the_modified_and_added_entries_only(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(40))
    source = make_source(server, page_size=7)
    full = collect(source.read(request("primary_email")))
    assert full.result is not None and full.result.full and full.result.watermark
    watermark = full.result.watermark
    # from the server's stamps (2024), moved back by the read's duration plus a second
    assert NEWEST - timedelta(seconds=10) <= parse_generalized_time(watermark) < NEWEST

    admin = server.admin()
    admin.modify(_uid(5), {"mail": [(MODIFY_REPLACE, ["changed@example.com"])]})
    admin.delete(_uid(7))
    person = S.openldap_person(41).split("\n")
    admin.add(_uid(41), attributes=_ldif_attributes(person[1:]))
    delta = collect(source.read(request("primary_email", since=watermark)))

    assert delta.result is not None and not delta.result.full
    seen = {u.primary_email: u.source_id for u in delta.users}
    assert seen.keys() == {
        "changed@example.com",  # person 5, modified
        "u000041@example.com",  # added: slapd gave it an entryUUID of its own
        "u000040@example.com",  # stamped at the old watermark's minute: read again (harmless)
    }
    assert seen["changed@example.com"] == str(S.person_uuid(5))
    # the new watermark comes from the server's stamps of today's changes, never goes back
    assert delta.result.watermark is not None
    assert parse_generalized_time(delta.result.watermark) > NEWEST

    after = collect(source.read(request("primary_email")))
    assert after.result is not None and after.result.full
    ids = {u.source_id for u in after.users}
    assert str(S.person_uuid(7)) not in ids and len(ids) == 40  # the deletion shows only here


def test_a_change_in_the_same_second_as_the_read_is_not_missed(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(5))
    source = make_source(server)
    admin = server.admin()
    admin.modify(_uid(1), {"mail": [(MODIFY_REPLACE, ["one@example.com"])]})
    watermark = collect(source.read(request("primary_email"))).result.watermark  # type: ignore[union-attr]
    admin.modify(_uid(2), {"mail": [(MODIFY_REPLACE, ["two@example.com"])]})  # same second
    delta = collect(source.read(request("primary_email", since=watermark)))

    assert str(S.person_uuid(2)) in {u.source_id for u in delta.users}


def test_an_empty_delta_keeps_the_watermark(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    server = make_slapd(S.people(3))
    delta = collect(make_source(server).read(request("primary_email", since="20990101000000Z")))

    assert delta.users == [] and delta.result is not None
    assert delta.result.watermark == "20990101000000Z" and not delta.result.full


@pytest.mark.parametrize(
    "since", ["20240101000000Z)(objectClass=*", "*", "yesterday", "20241399000000Z"]
)
def test_a_watermark_that_is_not_a_time_never_reaches_the_filter(
    make_slapd: MakeSlapd, make_source: MakeSource, since: str
) -> None:
    server = make_slapd(S.people(1), debug_level=256)

    with pytest.raises(StopRun, match=r"run once with --full"):
        collect(make_source(server).read(request("primary_email", since=since)))
    assert "SRCH base=" not in server.log_text.replace('SRCH base=""', "")


def test_active_directory_delta_uses_when_changed(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(10, "active_directory"), debug_level=256)
    source = make_source(server, dialect="active_directory")
    watermark = collect(source.read(request("primary_email"))).result.watermark  # type: ignore[union-attr]
    # AD writes whenChanged itself; the emulation's test writes it as AD would
    admin = server.admin()
    admin.modify(
        f"cn=user000003,{S.PEOPLE}",
        {
            "mail": [(MODIFY_REPLACE, ["new3@example.com"])],
            "whenChanged": [(MODIFY_REPLACE, ["20250101000000.0Z"])],
        },
    )
    delta = collect(source.read(request("primary_email", since=watermark)))

    assert {u.source_id: u.primary_email for u in delta.users} == {
        str(S.person_uuid(3)): "new3@example.com",
        str(S.person_uuid(10)): "user000010@example.com",  # at the watermark's minute
    }
    assert delta.result is not None and delta.result.watermark is not None
    assert delta.result.watermark.startswith("2024123123595")  # 2025-01-01 less the read time
    assert delta.result.watermark.endswith(".0Z")  # as AD writes generalized time
    assert "(whenChanged>=2024" in server.log_text


def _ldif_attributes(lines: list[str]) -> dict[str, list[str]]:
    attributes: dict[str, list[str]] = {}
    for line in lines:
        if ": " in line and not line.startswith(SERVER_SET):
            name, _, value = line.partition(": ")
            attributes.setdefault(name, []).append(value)
    return attributes
