"""Bad configuration and bad entries: a clear message or a per-user issue, never a quiet loss."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sync.errors import SourceUnavailable, StopRun
from sync.sources.base import ReadRequest
from sync.sources.settings import LdapSourceSettings
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request


def _person(index: int, *extra: str, without: tuple[str, ...] = ()) -> str:
    lines = [
        line
        for line in S.openldap_person(index).strip().splitlines()
        if not line.startswith(without)
    ]
    return "\n".join([*lines, *extra]) + "\n\n"


def test_a_wrong_password_stops_the_run_without_showing_it(
    make_slapd: MakeSlapd, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_slapd(S.people(1))
    monkeypatch.setenv("WRONG_PASSWORD", "hunter2-wrong")
    source = make_source(server, password_env="WRONG_PASSWORD", retry_seconds=5)

    with pytest.raises(SourceUnavailable, match=r"bind as cn=sync.*invalid credentials") as info:
        collect(source.read(request("primary_email")))
    assert "hunter2" not in str(info.value)


def test_a_bind_dn_without_a_password_is_refused_before_connecting(make_source: MakeSource) -> None:
    # an unauthenticated bind (DN, no password) would succeed and read nothing
    source = make_source("ldap://127.0.0.1:1", password_env=None)

    with pytest.raises(StopRun, match=r"set password_env or password_file"):
        collect(source.read(request("primary_email")))


def test_the_password_can_come_from_a_file(
    make_slapd: MakeSlapd, make_source: MakeSource, tmp_path: Path
) -> None:
    server = make_slapd(S.people(2))
    secret = tmp_path / "password"
    secret.write_text(S.SYNC_PW + "\n", encoding="utf-8")
    source = make_source(server, password_env=None, password_file=secret)

    assert len(collect(source.read(request("primary_email"))).users) == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_dn": "ou=nobody,dc=example,dc=com"}, "base_dn does not exist"),
        ({"base_dn": "not a dn"}, "not a valid DN"),
        ({"user_filter": "(objectClass=inetOrgPerson"}, "not a valid LDAP filter"),
        ({"inactive_filter": "(&(a=1)"}, "not a valid LDAP filter"),
    ],
)
def test_a_bad_base_dn_or_filter_stops_the_run(
    make_slapd: MakeSlapd, make_source: MakeSource, settings: dict[str, str], message: str
) -> None:
    server = make_slapd(S.people(1))

    with pytest.raises(StopRun, match=message):
        collect(make_source(server, retry_seconds=5, **settings).read(request("primary_email")))


def test_a_multi_valued_attribute_where_one_is_expected_is_an_issue(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    # (two `mail` values are not: the first is the primary address, test_ldap_ad_realities.py)
    two_names = S.openldap_person(1).replace("\ngivenName: ", "\ngivenName: Taro\ngivenName: ")
    server = make_slapd([two_names, _person(2)])
    read = collect(make_source(server).read(request("primary_email", "given_name")))

    assert [u.source_id for u in read.users] == [str(S.person_uuid(2))]
    assert [(i.source_id, i.reason) for i in read.issues] == [
        (str(S.person_uuid(1)), "missing_attribute")
    ]
    assert read.issues[0].detail == (
        f"given_name: givenName has 2 values where one is expected (uid=u000001,{S.PEOPLE})"
    )  # where to look
    # the person is known, so the read stays complete: the core leaves the account alone
    assert read.result is not None and read.result.full


def test_bytes_that_are_not_utf8_are_an_issue(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    # `audio` is an octet string, so slapd stores any bytes: here Latin-1 "José"
    server = make_slapd([_person(1, "audio:: Sm9z6Q=="), _person(2, "audio: Jose")])
    source = make_source(server, attributes={"given_name": "audio"})
    read = collect(source.read(request("given_name")))

    assert [(u.source_id, u.given_name) for u in read.users] == [(str(S.person_uuid(2)), "Jose")]
    assert read.issues[0].source_id == str(S.person_uuid(1))
    assert "given_name: audio holds bytes that are not UTF-8 text" in read.issues[0].detail


def test_binary_values_are_an_issue(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    # userPassword is an octet string; mapped by mistake, its NUL bytes must not become a name
    server = make_slapd([_person(1, "userPassword:: AAECYmluYXJ5")])
    source = make_source(server, attributes={"employee_code": "userPassword"})
    read = collect(source.read(request("employee_code")))

    assert read.users == []
    assert "employee_code: userPassword holds binary data" in read.issues[0].detail


def test_an_entry_without_an_id_makes_the_read_partial(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd([_person(1), _person(2, without=("employeeNumber",))])
    source = make_source(server, attributes={"source_id": "employeeNumber"})
    read = collect(source.read(request("primary_email")))

    assert [u.source_id for u in read.users] == ["E000001"]
    assert read.issues[0].source_id == f"uid=u000002,{S.PEOPLE}"
    assert "source_id: employeeNumber is missing" in read.issues[0].detail
    assert read.result is not None and not read.result.full


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"url": "ldaps://h", "start_tls": True}, "start_tls = true needs an ldap:// url"),
        ({"url": "http://h"}, "String should match pattern"),
        ({"url": "ldap://h", "attributes": {"active": "x"}}, "use inactive_filter"),
        ({"url": "ldap://h", "dialect": "novell"}, "openldap"),
    ],
)
def test_settings_say_what_is_wrong(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LdapSourceSettings.model_validate({"kind": "ldap", "base_dn": "dc=x", **values})


def test_a_missing_slapd_binary_fails_with_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(S.SlapdMissing, match=r"apt-get install -y slapd ldap-utils"):
        S.Slapd(tmp_path, slapd_binary=str(tmp_path / "no-slapd"))


def test_a_required_attribute_no_ldap_attribute_holds_stops_at_once(
    make_source: MakeSource,
) -> None:
    source = make_source("ldap://127.0.0.1:1")  # never reached: the check comes first
    wanted = ReadRequest(
        frozenset({"salesforce_account"}), required=frozenset({"salesforce_account"})
    )

    with pytest.raises(StopRun, match=r"no LDAP attribute holds salesforce_account; map one"):
        collect(source.read(wanted))
