"""Name readings from a real Active Directory (Samba 4, TESTING.md): the `active_directory`
dialect reads `msDS-PhoneticLastName` / `msDS-PhoneticFirstName`, and a template romanises them
(SPEC §18)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sync.compose.rules import Composed, NameRule, NotComposed
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import IssueReason
from tests.ldap.conftest import PASSWORD_ENV, MakeSource
from tests.support.reading import collect, request
from tests.support.samba import ADMIN, ADMIN_PW, DOMAIN_DN, SambaDc

STAFF = f"OU=Readings,{DOMAIN_DN}"
# cn: (sn, givenName, msDS-PhoneticLastName, msDS-PhoneticFirstName)
PEOPLE = {
    "山田 太郎": ("山田", "太郎", "ヤマダ", "タロウ"),
    "本間 純平": ("本間", "純平", "ほんま", "じゅんぺい"),  # typed in hiragana
    "佐藤 優希": ("佐藤", "優希", None, None),  # no reading in the directory
}


@pytest.fixture(scope="module")
def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDc]:
    dc = SambaDc(Path(tmp_path_factory.mktemp("samba-readings")))
    dc.provision()
    dc.start()
    try:
        conn = dc.admin()
        conn.add(STAFF, "organizationalUnit")
        for number, (cn, (sn, given, family_yomi, given_yomi)) in enumerate(PEOPLE.items()):
            attributes = {"sAMAccountName": f"person{number}", "sn": sn, "givenName": given,
                          "displayName": cn, "mail": f"person{number}@example.test"}  # fmt: skip
            if family_yomi and given_yomi:
                attributes["msDS-PhoneticLastName"] = family_yomi
                attributes["msDS-PhoneticFirstName"] = given_yomi
            conn.add(f"CN={cn},{STAFF}", "user", attributes)
        conn.unbind()
        yield dc
    finally:
        dc.stop()


def test_readings_of_a_real_domain_controller_become_names(
    samba_dc: SambaDc, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PW)
    source = make_source(samba_dc.url, dialect="active_directory", bind_dn=ADMIN, base_dn=STAFF)
    rule = NameRule.parse(
        "custom",
        "{family_name_yomi|romaji(passport)}.{given_name_yomi|romaji(passport)}",
        DEFAULT_NAME_PATTERN,
    )
    asked = replace(request("display_name", *rule.attributes), required=rule.attributes)
    read = collect(source.read(asked))
    assert read.result is not None and read.result.full and not read.issues
    readings = {u.display_name: (u.family_name_yomi, u.given_name_yomi) for u in read.users}
    assert readings == {
        "山田 太郎": ("ヤマダ", "タロウ"),
        "本間 純平": ("ほんま", "じゅんぺい"),
        "佐藤 優希": (None, None),
    }
    names = {u.display_name: rule.compose(u) for u in read.users}
    assert names == {
        "山田 太郎": Composed("yamada.taro"),
        "本間 純平": Composed("homma.jumpei"),
        "佐藤 優希": NotComposed(IssueReason.MISSING_ATTRIBUTE, "family_name_yomi"),
    }
