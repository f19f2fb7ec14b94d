"""The contract of the two LDAP clients (sync.sources.ldap.libldap): over the same real slapd and
Samba AD, python-ldap and ldap3 give the same people, issues, groups and results, and every bad
input ends in the same error class with the same message.

Every other test of tests/ldap runs on both clients too (conftest.py's `client`); this module
reads each directory with both side by side and compares what comes out, odd entries included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sync.errors import IncompleteRead, SourceUnavailable, StopRun
from sync.sources.base import ReadRequest
from sync.sources.ldap import LdapSource
from sync.sources.ldap.connection import Client
from tests.ldap.conftest import CLIENTS, PASSWORD_ENV, MakeSlapd, MakeSource
from tests.ldap.test_ldap_bad_input import _person
from tests.ldap.test_ldap_completeness import REFERRAL
from tests.ldap.test_ldap_groups import OTHER_ASKED, STAFF_ASKED, directory
from tests.ldap.test_ldap_lean_contract import _odd_person
from tests.ldap.test_ldap_samba_ad import samba_dc  # noqa: F401 (the fixture, shared)
from tests.support import slapd as S
from tests.support.certs import make_ca
from tests.support.reading import collect, request
from tests.support.samba import ADMIN, ADMIN_PW, DOMAIN_DN, SambaDc

Outcome = tuple[Any, ...]


@pytest.fixture
def client() -> Client:
    """make_source's default: each test here sets both clients itself."""
    return "ldap3"


def outcome(source: LdapSource, asked: ReadRequest) -> Outcome:
    """What a read gave: its users, issues and result, or its error's class and message."""
    try:
        read = collect(source.read(asked))
    except (StopRun, SourceUnavailable, IncompleteRead) as exc:
        return type(exc).__name__, str(exc)
    users = sorted(read.users, key=lambda user: user.source_id)
    issues = sorted(read.issues, key=lambda issue: (issue.source_id, issue.detail))
    return tuple(users), tuple(issues), read.result


def both(make: Callable[[], LdapSource], asked: ReadRequest) -> dict[Client, Outcome]:
    found = {}
    for name in CLIENTS:
        source = make()
        source.client = name
        found[name] = outcome(source, asked)
    return found


def same(make: Callable[[], LdapSource], asked: ReadRequest) -> Outcome:
    found = both(make, asked)
    assert found["libldap"] == found["ldap3"]
    return found["ldap3"]


def odd_openldap_people() -> list[str]:
    """The odd entries of the other tests: two given names, Latin-1 bytes, binary data, no id,
    a locked account; and groups nested in a cycle."""
    two_names = S.openldap_person(90).replace("\ngivenName: ", "\ngivenName: Taro\ngivenName: ")
    return [
        *directory(),
        two_names,
        _person(91, "audio:: Sm9z6Q=="),  # "José" in Latin-1
        _person(92, "userPassword:: AAECYmluYXJ5", "audio: Jose"),
        _person(93, without=("employeeNumber",)),
        S.openldap_person(94, locked=True),
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"attributes": {"given_name": "audio", "employee_code": "userPassword"}},
        {"attributes": {"source_id": "employeeNumber"}},
        {"inactive_filter": "(pwdAccountLockedTime=*)", "page_size": 3},
    ],
)
def test_openldap_people_issues_groups_and_results(
    make_slapd: MakeSlapd, make_source: MakeSource, settings: dict[str, Any]
) -> None:
    server = make_slapd(odd_openldap_people())
    asked = replace(
        request("primary_email", "given_name", "family_name", "employee_code"),
        groups=frozenset({STAFF_ASKED, OTHER_ASKED}),
    )
    users, issues, result = same(lambda: make_source(server, **settings), asked)
    assert users and issues and result.full is ("source_id" not in settings.get("attributes", {}))


def test_a_delta_read(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    server = make_slapd(S.people(40))
    since = (S.OLD_TIME.replace(minute=30)).strftime("%Y%m%d%H%M%SZ")
    users, _, result = same(lambda: make_source(server), request("primary_email", since=since))
    assert len(users) == 11 and not result.full  # people 30 to 40


def test_active_directory_on_slapd(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    """objectGUID bytes that are not UTF-8, userAccountControl, UTF-8 and multi-valued values."""
    server = make_slapd(
        [*S.people(4, "active_directory"), _odd_person(5), S.ad_person(6, disabled=True)]
    )
    users, issues, _ = same(
        lambda: make_source(server, dialect="active_directory", page_size=2),
        request("primary_email", "display_name", extra=("description",)),
    )
    assert len(users) == 5 and sum(not user.active for user in users) == 1
    assert [issue.source_id for issue in issues] == ["fdfcfbfa-fffe-0000-0000-000000000000"]


def test_a_real_domain_controller(
    samba_dc: SambaDc,  # noqa: F811
    make_source: MakeSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The domain root, where the DC refers to its own partitions; disabled and expired
    accounts; nested groups by the in-chain rule; a group that does not exist; and referrals
    not ignored when the base names another domain's root."""
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PW)
    settings = {"dialect": "active_directory", "bind_dn": ADMIN, "base_dn": DOMAIN_DN}
    everyone = f"CN=Everyone In Staff,OU=Groups,{DOMAIN_DN}"
    asked = replace(request("primary_email", "display_name"), groups=frozenset({everyone}))
    users, _, result = same(lambda: make_source(samba_dc.url, **settings), asked)
    assert result.full and sum(bool(user.groups) for user in users) == 2

    missing = replace(asked, groups=frozenset({f"CN=Nobody,OU=Groups,{DOMAIN_DN}"}))
    kind, _ = same(lambda: make_source(samba_dc.url, **settings), missing)
    assert kind == "StopRun"

    # the DC's own partitions are only skipped as the partitions of the base's domain
    other = {**settings, "base_dn": "DC=example,DC=test"}
    kind, message = same(lambda: make_source(samba_dc.url, **other), asked)
    assert kind in ("IncompleteRead", "StopRun"), message


# -- bad input: the same error, word for word ---------------------------------------------------


def test_a_wrong_password(make_slapd: MakeSlapd, make_source: MakeSource) -> None:
    server = make_slapd(S.people(2))
    make = lambda: make_source(server, password_file=None)  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, "wrong-password")
        kind, message = same(make, request("primary_email"))
    assert kind == "SourceUnavailable" and "invalid credentials" in message


@pytest.mark.parametrize(
    ("settings", "kind"),
    [
        ({"base_dn": "ou=nobody,dc=example,dc=com"}, "StopRun"),
        ({"base_dn": "not a dn"}, "StopRun"),
        ({"page_size": 20}, "IncompleteRead"),  # the size limit, on a later page
        ({"page_size": 1000}, "IncompleteRead"),  # the size limit, on the first page
        ({"base_dn": f"cn=x,ou=elsewhere,{S.PEOPLE}"}, "IncompleteRead"),  # a referral result
        ({}, "IncompleteRead"),  # a continuation reference among the entries
    ],
)
def test_the_same_error(
    make_slapd: MakeSlapd, make_source: MakeSource, settings: dict[str, Any], kind: str
) -> None:
    limit = f'limits dn.exact="{S.SYNC_DN}" size=50'
    server = make_slapd([*S.people(120), REFERRAL], database_lines=(limit,))
    found_kind, _ = same(lambda: make_source(server, **settings), request("primary_email"))
    assert found_kind == kind


@pytest.mark.parametrize("start_tls", [False, True])
@pytest.mark.parametrize("trust", ["system", "another CA", "wrong host"])
def test_an_untrusted_certificate(
    make_slapd: MakeSlapd, make_source: MakeSource, tmp_path: Path, start_tls: bool, trust: str
) -> None:
    server = make_slapd(S.people(2), tls=("ldap.example.com",) if trust == "wrong host" else True)
    assert server.tls is not None
    ca = {"system": None, "another CA": make_ca(tmp_path / "other", "other CA")[0]}.get(
        trust, server.tls.ca_cert
    )
    url = server.url if start_tls else server.ldaps_url
    kind, message = same(
        lambda: make_source(url, start_tls=start_tls, ca_file=ca), request("primary_email")
    )
    assert kind == "SourceUnavailable" and "TLS failed" in message


def test_a_server_closing_the_connection_mid_read(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """Where each client is when the server goes differs (ldap3 reads ahead in its process),
    so the count of entries read before is not compared; the rest of the message is. The
    server is killed: stopped, slapd may first answer `unavailable` (shutting down), and
    which of the two a client then sees is a race."""
    found = {}
    for name in CLIENTS:
        server = make_slapd(S.people(3000))
        source = make_source(server, page_size=10, retry_seconds=5)
        source.client = name
        read = source.read(request("primary_email"))
        assert len(next(read).users) == 10
        server.kill()
        with pytest.raises(IncompleteRead) as failed:
            collect(read)
        found[name] = re.sub(r"\d+", "N", str(failed.value))
    assert found["libldap"] == found["ldap3"]
    assert "after N entries; the read is incomplete and nobody is disabled" in found["ldap3"]


def test_the_read_path_is_told_and_can_be_set_back_to_ldap3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from sync.entry.cli import cli
    from sync.sources.ldap.connection import CLIENT_ENV, client_for

    assert client_for("ldap://127.0.0.1:389", start_tls=False) == "libldap"
    assert "LDAP read: libldap (python-ldap " in CliRunner().invoke(cli, ["--version"]).output
    monkeypatch.setenv(CLIENT_ENV, "ldap3")
    assert client_for("ldap://127.0.0.1:389", start_tls=False) == "ldap3"
    output = CliRunner().invoke(cli, ["--version"]).output
    assert "LDAP read: ldap3 (CLOMO_LDAP_CLIENT=ldap3; libldap is installed)" in output


def test_a_ranged_attribute_fails_the_libldap_read_rather_than_reading_a_part() -> None:
    """AD's ranged retrieval (an attribute of more than MaxValRange values) cannot be had from
    slapd or Samba: the entry's conversion is checked directly."""
    from sync.sources.ldap.libldap import _entry

    whole = _entry("cn=a", {"Member": [b"cn=b"], "mail": [b"a@example.com"]})
    assert whole.attributes == {"member": [b"cn=b"], "mail": [b"a@example.com"]}
    with pytest.raises(IncompleteRead, match=r"cn=a: the server sent only part of member;range"):
        _entry("cn=a", {"member;range=0-1499": [b"cn=b"]})


@pytest.mark.parametrize(
    "value", ["CN=Sales (Tokyo),OU=Groups", r"a*b\c", "nul\0here", "山田", "20240101000000Z"]
)
def test_filter_values_are_escaped_as_ldap3_escapes_them(value: str) -> None:
    from ldap3.utils.conv import escape_filter_chars

    from sync.sources.ldap.connection import escape_filter_value

    assert escape_filter_value(value) == escape_filter_chars(value)


def test_a_read_on_libldap_does_not_import_ldap3(
    make_slapd: MakeSlapd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing ldap3 costs a run about what a delta read's searches cost."""
    import subprocess
    import sys

    server = make_slapd(S.people(3))
    monkeypatch.setenv(PASSWORD_ENV, S.SYNC_PW)
    code = (
        "import sys; from sync.sources.ldap import LdapSource; "
        "from sync.sources.settings import LdapSourceSettings; "
        "from tests.support.reading import collect, request; "
        f"s = LdapSourceSettings(kind='ldap', url={server.url!r}, bind_dn={S.SYNC_DN!r}, "
        f"password_env={PASSWORD_ENV!r}, base_dn={S.PEOPLE!r}); "
        "read = collect(LdapSource(s, client='libldap').read(request('primary_email'))); "
        "print(len(read.users), 'ldap3' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["3", "False"]
