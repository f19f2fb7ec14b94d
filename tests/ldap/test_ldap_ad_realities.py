"""Active Directory as customers have it (SPEC §13), on slapd with the AD test schema: expired
accounts, a base DN at the domain root with its referrals, issues that name the entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.errors import IncompleteRead
from sync.sources.ldap.values import to_filetime
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request

NEVER_SET = 0x7FFFFFFFFFFFFFFF  # a new account: "never" as AD first writes it
NOW = datetime.now(UTC)


def _expiring(index: int, value: int | str, changed: datetime = S.OLD_TIME) -> str:
    return S.ad_person(index, changed=changed).replace(
        "objectCategory: person", f"objectCategory: person\naccountExpires: {value}"
    )


def _id(index: int) -> str:
    return str(S.person_uuid(index))


def test_an_account_past_its_expiry_time_is_inactive(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(
        [
            _expiring(1, 0),  # never (set back to "never" after having had a date)
            _expiring(2, NEVER_SET),  # never (never had a date)
            _expiring(3, to_filetime(datetime(2020, 3, 31, tzinfo=UTC))),  # expired
            _expiring(4, to_filetime(NOW - timedelta(minutes=1))),  # expired a minute ago
            _expiring(5, to_filetime(NOW + timedelta(days=30))),  # expires next month
            S.ad_person(6),  # no accountExpires at all
            _expiring(7, "soon"),  # not a FILETIME: reported, not guessed
        ]
    )
    read = collect(make_source(server, dialect="active_directory").read(request("primary_email")))

    assert {u.source_id: u.active for u in read.users} == {
        _id(1): True,
        _id(2): True,
        _id(3): False,
        _id(4): False,
        _id(5): True,
        _id(6): True,
    }
    assert [(i.source_id, i.reason, i.detail) for i in read.issues] == [
        (
            _id(7),
            "missing_attribute",
            "active: accountExpires is not a FILETIME integer: invalid literal for int() with "
            f"base 10: 'soon' (cn=user000007,{S.PEOPLE}; sAMAccountName user000007)",
        )
    ]


def test_a_delta_read_sees_an_account_that_expired_since_the_last_read(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """Expiry changes nothing on the entry (whenChanged stays): the delta asks for it too."""
    watermark = S.OLD_TIME + timedelta(days=1)
    server = make_slapd(
        [
            _expiring(1, to_filetime(NOW - timedelta(hours=2))),  # expired since the last read
            _expiring(2, to_filetime(S.OLD_TIME - timedelta(days=1))),  # long expired, seen
            _expiring(3, to_filetime(NOW + timedelta(days=1))),  # not yet
            _expiring(4, 0),
            _expiring(5, NEVER_SET),
            S.ad_person(6, changed=watermark + timedelta(hours=1)),  # changed since
        ]
    )
    source = make_source(server, dialect="active_directory")
    since = watermark.strftime("%Y%m%d%H%M%S.0Z")
    read = collect(source.read(request("primary_email", since=since)))

    assert {u.source_id: u.active for u in read.users} == {_id(1): False, _id(6): True}


# A DC answers a subtree search of the domain root with search continuation references to the
# partitions below the root's DN that it does not hold: slapd does the same for `referral`
# entries when the search does not ask for manageDSAit (RFC 3296), which the source never does.
def _reference(rdn: str, target: str) -> str:
    name, value = rdn.split("=")
    return (
        f"dn: {rdn},{S.SUFFIX}\nobjectClass: referral\nobjectClass: extensibleObject\n"
        f"{name}: {value}\nref: {target}\n\n"
    )


DOMAIN_PARTITIONS = [
    _reference("dc=DomainDnsZones", "ldap://DomainDnsZones.example.com/DC=DomainDnsZones,DC=example,DC=com"),
    _reference("dc=ForestDnsZones", "ldap://ForestDnsZones.example.com/DC=ForestDnsZones,DC=example,DC=com"),
    _reference("cn=Configuration", "ldap://example.com/CN=Configuration,DC=example,DC=com"),
]  # fmt: skip


def test_a_base_dn_at_the_domain_root_ignores_the_domains_own_partitions(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd([*S.people(3, "active_directory"), *DOMAIN_PARTITIONS])
    source = make_source(server, dialect="active_directory", base_dn=S.SUFFIX, page_size=2)
    read = collect(source.read(request("primary_email")))

    assert len(read.users) == 3
    assert read.result is not None and read.result.full


@pytest.mark.parametrize(
    "reference",
    [
        # another forest's configuration: not this domain's own
        _reference("cn=Configuration", "ldap://other.com/CN=Configuration,DC=other,DC=com"),
        # a subordinate reference to a server holding people
        _reference("ou=elsewhere", "ldap://other.example.com/OU=Staff,DC=example,DC=com"),
    ],
)
def test_other_references_still_make_the_read_incomplete(
    make_slapd: MakeSlapd, make_source: MakeSource, reference: str
) -> None:
    server = make_slapd([*S.people(2, "active_directory"), *DOMAIN_PARTITIONS[:2], reference])
    source = make_source(server, dialect="active_directory", base_dn=S.SUFFIX)

    with pytest.raises(IncompleteRead, match=r"referral to ldap://other"):
        collect(source.read(request("primary_email")))


def test_openldap_does_not_ignore_what_looks_like_ad_partitions(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd([*S.people(2), DOMAIN_PARTITIONS[0]])
    source = make_source(server, base_dn=S.SUFFIX)

    with pytest.raises(IncompleteRead, match=r"referral to ldap://DomainDnsZones"):
        collect(source.read(request("primary_email")))


def test_a_per_person_issue_names_the_dn_and_the_account_name(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    twice = S.ad_person(1).replace("givenName: Given1", "givenName: Given1\ngivenName: Taro")
    server = make_slapd([twice, S.ad_person(2)])
    source = make_source(server, dialect="active_directory")
    read = collect(source.read(request("primary_email", "given_name")))

    assert [u.source_id for u in read.users] == [_id(2)]
    assert [(i.source_id, i.detail) for i in read.issues] == [
        (
            _id(1),
            "given_name: givenName has 2 values where one is expected "
            f"(cn=user000001,{S.PEOPLE}; sAMAccountName user000001)",
        )
    ]


def test_two_mail_values_make_the_first_the_primary_address(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """On OpenLDAP `mail` is multi-valued: slapd keeps the values in the order they were
    written (not sorted), and the first is the person's primary address."""
    person = S.openldap_person(1).replace(
        "mail: u000001@example.com",
        "mail: zeta@example.com\nmail: alpha@example.com",
    )
    server = make_slapd([person, S.openldap_person(2)])
    read = collect(make_source(server).read(request("primary_email", "emails")))

    users = read.by_id()
    assert read.issues == []
    assert users[_id(1)].primary_email == "zeta@example.com"
    assert users[_id(1)].emails == ("zeta@example.com", "alpha@example.com")
    assert users[_id(1)].all_emails() == ("zeta@example.com", "alpha@example.com")
    assert users[_id(2)].primary_email == "u000002@example.com"
