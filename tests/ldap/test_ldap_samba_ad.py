"""The `active_directory` dialect against a real domain controller (Samba 4, TESTING.md): a
base DN at the domain root with the DC's own referrals, disabled and expired accounts, nested
groups through LDAP_MATCHING_RULE_IN_CHAIN, and issues that name the entry (the source's and
the plan's)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.errors import StopRun
from sync.sources.ldap.values import to_filetime
from tests.conftest import Workspace
from tests.ldap.conftest import PASSWORD_ENV, MakeSource
from tests.support.reading import collect, request
from tests.support.samba import ADMIN, ADMIN_PW, DOMAIN_DN, SambaDc

STAFF = f"OU=Staff,{DOMAIN_DN}"
GROUPS = f"OU=Groups,{DOMAIN_DN}"
NORMAL, DISABLED = 0x200 | 0x20, 0x200 | 0x20 | 0x2  # NORMAL_ACCOUNT, PASSWD_NOTREQD, DISABLE
EXPIRED = to_filetime(datetime.now(UTC) - timedelta(days=1))
# name: (userAccountControl, accountExpires or None, extra attributes)
PEOPLE: dict[str, tuple[int, int | None, dict[str, object]]] = {
    "Taro Yamada": (NORMAL, None, {"otherMailbox": ["t1@example.test", "t2@example.test"]}),
    "Hanako Sato": (NORMAL, 0, {}),
    "Jiro Disabled": (DISABLED, None, {}),
    "Saburo Expired": (NORMAL, EXPIRED, {}),
    "Shiro Nested": (NORMAL, None, {}),
}


def _sam(name: str) -> str:
    first, last = name.lower().split()
    return first[0] + last


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDc]:
    dc = SambaDc(Path(tmp_path_factory.mktemp("samba")))
    dc.provision()
    dc.start()
    try:
        _load(dc)
        yield dc
    finally:
        dc.stop()


def _load(dc: SambaDc) -> None:
    conn = dc.admin()
    for ou in (STAFF, GROUPS):
        conn.add(ou, "organizationalUnit")
    for name, (control, expires, extra) in PEOPLE.items():
        sam = _sam(name)
        attributes = {
            "sAMAccountName": sam,
            "userPrincipalName": f"{sam}@corp.example.test",
            "givenName": name.split()[0],
            "sn": name.split()[1],
            "displayName": name,
            "mail": f"{sam}@example.test",
            "userAccountControl": str(control),
            **extra,
        }
        if expires is not None:
            attributes["accountExpires"] = str(expires)
        conn.add(f"CN={name},{STAFF}", "user", attributes)
    conn.add(f"CN=Sales,{GROUPS}", "group", {"member": [f"CN=Shiro Nested,{STAFF}"]})
    members = [f"CN=Taro Yamada,{STAFF}", f"CN=Sales,{GROUPS}"]
    conn.add(f"CN=Everyone In Staff,{GROUPS}", "group", {"member": members})
    conn.unbind()


def test_a_real_domain_controller(
    samba_dc: SambaDc, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PW)
    settings = {"dialect": "active_directory", "bind_dn": ADMIN, "base_dn": DOMAIN_DN}
    attributes = {"employee_code": "otherMailbox"}  # multi-valued in AD: an issue when two
    source = make_source(samba_dc.url, attributes=attributes, **settings)
    read = collect(source.read(request("primary_email", "employee_code", "display_name")))

    # the domain root: the DC refers the search to CN=Configuration, DC=DomainDnsZones and
    # DC=ForestDnsZones, which hold nobody; the read is complete
    assert read.result is not None and read.result.full
    active = {u.display_name: u.active for u in read.users if u.primary_email}
    assert active == {
        "Hanako Sato": True,
        "Jiro Disabled": False,
        "Saburo Expired": False,
        "Shiro Nested": True,
    }
    assert {u.primary_email for u in read.users if u.display_name == "Hanako Sato"} == {
        "hsato@example.test"
    }
    [issue] = read.issues
    assert issue.detail == (
        "employee_code: otherMailbox has 2 values where one is expected "
        f"(CN=Taro Yamada,{STAFF}; sAMAccountName tyamada)"
    )

    # nested group membership, the AD way (LDAP_MATCHING_RULE_IN_CHAIN)
    in_chain = f"(memberOf:1.2.840.113556.1.4.1941:=CN=Everyone In Staff,{GROUPS})"
    source = make_source(
        samba_dc.url,
        user_filter=f"(&(objectCategory=person)(objectClass=user){in_chain})",
        **settings,
    )
    read = collect(source.read(request("primary_email", "display_name")))
    assert sorted(u.display_name or "" for u in read.users) == ["Shiro Nested", "Taro Yamada"]


def test_groups_of_a_real_domain_controller(
    samba_dc: SambaDc, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requested groups' members, nesting resolved by the DC (LDAP_MATCHING_RULE_IN_CHAIN),
    spelt as requested; a group that does not exist stops the read."""
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PW)
    settings = {"dialect": "active_directory", "bind_dn": ADMIN, "base_dn": DOMAIN_DN}
    everyone, sales = f"cn=everyone in staff,{GROUPS}".lower(), f"CN=Sales,{GROUPS}"
    source = make_source(samba_dc.url, **settings)
    asked = replace(request("display_name"), groups=frozenset({everyone, sales}))
    read = collect(source.read(asked))
    groups = {u.display_name: set(u.groups) for u in read.users if u.groups}
    assert groups == {"Taro Yamada": {everyone}, "Shiro Nested": {everyone, sales}}

    missing = f"CN=Nobody,{GROUPS}"
    with pytest.raises(StopRun, match=f"group {missing} does not exist"):
        collect(source.read(replace(asked, groups=frozenset({missing}))))


def test_a_person_without_mail_is_named_by_dn_and_sam_account_name(
    samba_dc: SambaDc, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §18: the plan's missing_attribute issue names the person as an administrator finds
    them, not by objectGUID alone, in the JSON report, the text report and `runs show`."""
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PW)
    dn = f"CN=Goro Nomail,{STAFF}"
    conn = samba_dc.admin()
    conn.add(dn, "user", {"sAMAccountName": "gnomail", "displayName": "Goro Nomail",
                          "userAccountControl": str(NORMAL)})  # fmt: skip
    try:
        workspace.tenant["source"] = {"kind": "ldap", "url": samba_dc.url, "retry_seconds": 0,
                                      "dialect": "active_directory", "bind_dn": ADMIN,
                                      "password_env": PASSWORD_ENV, "base_dn": STAFF}  # fmt: skip
        workspace.configure()
        report = workspace.sync()
        [issue] = [i for i in report["issues"] if i["person"].get("display_name") == "Goro Nomail"]
        assert (issue["reason"], issue["detail"]) == ("missing_attribute", "primary_email")
        assert issue["person"] == {
            "display_name": "Goro Nomail",
            "dn": dn,
            "sAMAccountName": "gnomail",
        }
        shown = workspace.cli("runs", "show", report["run_id"])
        assert f"(Goro Nomail, dn {dn}, sAMAccountName gnomail): missing_attribute" in shown.out
        # one entry read alone on a real DC: by objectGUID (as bytes), and by distinguishedName
        for typed in (issue["source_id"], dn.lower()):
            alone = workspace.sync("--only", typed)
            assert (alone["source"]["users_read"], alone["on_demand"]) == (1, True), alone
            assert [i["source_id"] for i in alone["issues"]] == [issue["source_id"]]
    finally:
        conn.delete(dn)
        conn.unbind()
