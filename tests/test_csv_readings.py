"""Account names from name readings (SPEC §18), end to end: a CSV tenant with a custom template
that romanises the readings, synced through the command line into the store."""

from __future__ import annotations

import csv
from typing import Any

from tests.conftest import Workspace

AS_WRITTEN = "{family_name_yomi|romaji}.{given_name_yomi|romaji}"
PASSPORT = "{family_name_yomi|romaji(passport)}.{given_name_yomi|romaji(passport)}"
# source_id, family_name, given_name, family_name_yomi, given_name_yomi
PEOPLE = [
    ("u-1", "山田", "太郎", "ヤマダ", "タロウ"),
    ("u-2", "佐藤", "優希", "さとう", "ゆうき"),  # hiragana
    ("u-3", "鈴木", "一郎", "ｽｽﾞｷ", "ｲﾁﾛｳ"),  # half-width katakana
    ("u-4", "本間", "純平", "ホンマ", "ジュンペイ"),
    ("u-5", "山田", "太郎", "ヤマダ", "タロウ"),  # a namesake: suffixed
    ("u-6", "井上", "京子", "山田", "キョウコ"),  # kanji typed into the reading
    ("u-7", "服部", "半蔵", "", "ハンゾウ"),  # no reading
]


def write_people(workspace: Workspace, family_column: str = "family_name_yomi") -> None:
    header = ["source_id", "primary_email", "employee_code", "display_name", "emails"]
    with workspace.csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, "family_name", "given_name", family_column, "given_name_yomi"])
        for source_id, *names in PEOPLE:
            contact = [f"{source_id}@example.com", source_id.upper(), f"{names[0]} {names[1]}", ""]
            writer.writerow([source_id, *contact, *names])


def issues(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(i["source_id"], i["reason"], i["detail"]) for i in report["issues"]}


def test_readings_become_romaji_names_as_written(workspace: Workspace) -> None:
    write_people(workspace)
    workspace.configure(account_name_source="custom", custom_template=AS_WRITTEN)
    report = workspace.sync()
    assert report["status"] == "succeeded", report["error"]
    accounts = workspace.accounts()
    assert {name: a["source_id"] for name, a in accounts.items()} == {
        "yamada.tarou": "u-1",
        "satou.yuuki": "u-2",
        "suzuki.ichirou": "u-3",
        "honma.junpei": "u-4",
        "yamada.tarou-2": "u-5",
    }
    assert accounts["yamada.tarou"]["family_name"] == "山田"  # the profile keeps the kanji
    assert issues(report) == {
        ("u-6", "invalid_name", "'山田.kyouko' is not allowed by the name pattern"),
        ("u-7", "missing_attribute", "family_name_yomi"),
    }


def test_passport_spelling_and_ascii_make_the_kanji_reading_a_missing_attribute(
    workspace: Workspace,
) -> None:
    write_people(workspace)
    template = PASSPORT.replace("(passport)}", "(passport)|ascii}", 1)
    workspace.configure(account_name_source="custom", custom_template=template)
    report = workspace.sync()
    assert sorted(workspace.accounts()) == [
        "homma.jumpei",
        "sato.yuki",
        "suzuki.ichiro",
        "yamada.taro",
        "yamada.taro-2",
    ]
    detail = "family_name_yomi|romaji(passport)|ascii (ascii yields nothing for '山田')"
    assert issues(report) == {
        ("u-6", "missing_attribute", detail),
        ("u-7", "missing_attribute", "family_name_yomi"),
    }


def test_a_reading_column_is_mapped_by_its_header_name(workspace: Workspace) -> None:
    write_people(workspace, family_column="姓（カナ）")
    source = {**workspace.tenant["source"], "attributes": {"family_name_yomi": "姓（カナ）"}}
    workspace.configure(account_name_source="custom", custom_template=PASSPORT, source=source)
    workspace.sync()
    assert "yamada.taro" in workspace.accounts()


def test_a_file_without_the_reading_column_fails_the_read_naming_it(
    workspace: Workspace,
) -> None:
    write_people(workspace, family_column="furigana")
    workspace.configure(account_name_source="custom", custom_template=AS_WRITTEN)
    report = workspace.sync()
    assert report["status"] == "failed" and "'family_name_yomi'" in report["error"]
    assert workspace.accounts() == {}
