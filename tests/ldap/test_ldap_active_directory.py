"""The `active_directory` dialect against slapd with the AD test schema (tests/support/slapd.py)."""

from __future__ import annotations

import base64
import uuid

from sync.model import DirectoryUser
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request

PROFILE = ("primary_email", "emails", "employee_code", "given_name", "family_name", "display_name")
# an AD computer account is objectClass user too; the default filter leaves it out
COMPUTER = S.ad_person(90).replace("objectCategory: person", "objectCategory: computer")


def _with_guid(entry: str, raw: bytes) -> str:
    line = next(line for line in entry.splitlines() if line.startswith("objectGUID"))
    return entry.replace(line, "objectGUID:: " + base64.b64encode(raw).decode())


def _control(index: int, value: int) -> str:
    return S.ad_person(index).replace("userAccountControl: 512", f"userAccountControl: {value}")


def test_reads_guids_addresses_and_the_disabled_flag(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(
        [
            *S.people(3, "active_directory"),
            S.ad_person(4, disabled=True),  # 514 = NORMAL_ACCOUNT | ACCOUNTDISABLE
            _control(5, 66050),  # 0x10202: DONT_EXPIRE_PASSWORD | NORMAL | ACCOUNTDISABLE
            _control(6, 66048),  # 0x10200: DONT_EXPIRE_PASSWORD | NORMAL: active
            COMPUTER,
        ]
    )
    source = make_source(server, dialect="active_directory", page_size=2)
    read = collect(source.read(request(*PROFILE, "updated_at")))

    users = read.by_id()
    assert {uid: u.active for uid, u in users.items()} == {
        str(S.person_uuid(1)): True,
        str(S.person_uuid(2)): True,
        str(S.person_uuid(3)): True,
        str(S.person_uuid(4)): False,
        str(S.person_uuid(5)): False,
        str(S.person_uuid(6)): True,
    }
    assert users[str(S.person_uuid(2))] == DirectoryUser(
        source_id=str(S.person_uuid(2)),
        active=True,
        primary_email="user000002@example.com",
        # proxyAddresses' smtp: values and the UPN; SMTP:primary (= mail) and X500: are not
        emails=("user000002@alias.example.com", "user000002@corp.example.com"),
        employee_code="E000002",
        given_name="Given2",
        family_name="Family2",
        display_name="Given2 Family2",
        updated_at="2024-01-01T00:02:00+00:00",
        locator=(("dn", f"cn=user000002,{S.PEOPLE}"), ("sAMAccountName", "user000002")),
    )
    assert read.result is not None and read.result.full and read.issues == []


def test_guid_is_read_as_ad_writes_it(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    """objectGUID's first three fields are little-endian: the bytes on the wire are not the
    string's order (what ADUC and PowerShell show is uuid.UUID(bytes_le=...))."""
    known = uuid.UUID("01020304-0506-0708-090a-0b0c0d0e0f10")
    wire = bytes.fromhex("0403020106050807090a0b0c0d0e0f10")
    assert known.bytes_le == wire
    server = make_slapd([_with_guid(S.ad_person(1), wire)])
    read = collect(make_source(server, dialect="active_directory").read(request("primary_email")))

    assert [u.source_id for u in read.users] == ["01020304-0506-0708-090a-0b0c0d0e0f10"]


def test_a_guid_of_the_wrong_length_is_an_issue(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd([_with_guid(S.ad_person(1), b"\x00\x01\x02"), S.ad_person(2)])
    read = collect(make_source(server, dialect="active_directory").read(request("primary_email")))

    assert [u.source_id for u in read.users] == [str(S.person_uuid(2))]
    assert [(i.source_id, i.reason) for i in read.issues] == [
        (f"cn=user000001,{S.PEOPLE}", "missing_attribute")
    ]
    assert "objectGUID is 3 bytes where a GUID has 16" in read.issues[0].detail
    # a person we cannot identify might be anyone: the read may not disable the absent
    assert read.result is not None and not read.result.full


def test_inactive_filter_with_the_ad_bit_matching_rule(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """The usual AD way to ask for disabled accounts works as an inactive_filter too."""
    server = make_slapd([*S.people(2, "active_directory"), S.ad_person(3, disabled=True)])
    source = make_source(
        server,
        dialect="active_directory",
        inactive_filter="(userAccountControl:1.2.840.113556.1.4.803:=2)",
    )
    read = collect(source.read(request("primary_email")))

    assert {u.source_id: u.active for u in read.users} == {
        str(S.person_uuid(1)): True,
        str(S.person_uuid(2)): True,
        str(S.person_uuid(3)): False,
    }
    assert read.result is not None and read.result.stats["inactive"] == 1


def test_sam_account_name_as_an_extra_field_for_lookups(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(1, "active_directory"))
    source = make_source(server, dialect="active_directory")
    read = collect(source.read(request("primary_email", extra=("sAMAccountName",))))

    assert read.users[0].extra == (("sAMAccountName", "user000001"),)
