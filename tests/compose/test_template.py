"""Custom name templates with filters (SPEC §18): parsing, each filter, and the issues they make."""

from __future__ import annotations

import pytest

from sync.compose.rules import Composed, NameRule, NotComposed
from sync.compose.template import TemplateError, parse_template
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import DirectoryUser, IssueReason

YAMADA = DirectoryUser(
    "id-1",
    family_name="山田",
    given_name="太郎",
    family_name_yomi="ヤマダ",
    given_name_yomi="タロウ",
    employee_code="ｅｍｐ００７",
    primary_email="Taro.Yamada@Example.com",
)


def compose(template: str, user: DirectoryUser = YAMADA) -> Composed | NotComposed:
    return NameRule.parse("custom", template, DEFAULT_NAME_PATTERN).compose(user)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{family_name_yomi|romaji}.{given_name_yomi|romaji}", "yamada.tarou"),
        ("{family_name_yomi|romaji(passport)}.{given_name_yomi|romaji(passport)}", "yamada.taro"),
        ("{given_name_yomi|romaji|initial}{family_name_yomi|romaji}", "tyamada"),
        ("{family_name_yomi|romaji|initial}", "y"),
        ("{family_name_yomi|romaji|upper}", "YAMADA"),
        ("{family_name_yomi|romaji|upper|lower}", "yamada"),
        ("{family_name_yomi|romaji|truncate(3)}", "yam"),
        ("{family_name_yomi|romaji|truncate(30)}", "yamada"),
        ("{email_local_part|lower}", "taro.yamada"),
        ("{employee_code|upper}", "EMP007"),  # NFKC before any filter
        ("{employee_code|ascii}", "emp007"),
        ("{ family_name_yomi | romaji }", "yamada"),
        ("{family_name_yomi|romaji}.{family_name|ascii}", None),  # 山田: nothing left
    ],
)
def test_filters_chain_left_to_right(template: str, expected: str | None) -> None:
    outcome = compose(template)
    if expected is None:
        assert outcome == NotComposed(
            IssueReason.MISSING_ATTRIBUTE, "family_name|ascii (ascii yields nothing for '山田')"
        )
    else:
        assert outcome == Composed(expected)


def test_braces_are_written_with_doubles() -> None:
    template = parse_template("{{{family_name_yomi|romaji}}}")
    assert template.fill(lambda attribute: "ヤマダ") == "{yamada}"


def test_a_kanji_reading_is_an_invalid_name_and_with_ascii_a_missing_attribute() -> None:
    kanji = DirectoryUser("id-2", family_name_yomi="山田", given_name_yomi="タロウ")
    outcome = compose("{family_name_yomi|romaji}.{given_name_yomi|romaji}", kanji)
    assert isinstance(outcome, NotComposed) and outcome.reason == IssueReason.INVALID_NAME
    assert "山田.tarou" in outcome.detail
    outcome = compose("{family_name_yomi|romaji|ascii}.{given_name_yomi|romaji}", kanji)
    assert outcome == NotComposed(
        IssueReason.MISSING_ATTRIBUTE,
        "family_name_yomi|romaji|ascii (ascii yields nothing for '山田')",
    )


def test_ascii_keeps_full_width_latin_as_plain_ascii() -> None:
    wide = DirectoryUser("id-3", family_name="ＹＡＭＡＤＡ", given_name="Müller")
    assert compose("{family_name|ascii}", wide) == Composed("YAMADA")
    outcome = compose("{given_name|ascii}", wide)
    assert isinstance(outcome, NotComposed) and outcome.reason == IssueReason.MISSING_ATTRIBUTE


def test_a_reading_with_a_space_keeps_it_and_the_pattern_refuses_it() -> None:
    spaced = DirectoryUser("id-4", family_name_yomi="ヤマダ　タロウ")  # an ideographic space
    outcome = compose("{family_name_yomi|romaji}", spaced)
    assert outcome == NotComposed(
        IssueReason.INVALID_NAME, "'yamada tarou' is not allowed by the name pattern"
    )


def test_a_filter_that_leaves_nothing_names_attribute_and_filter() -> None:
    long_mark = DirectoryUser("id-5", family_name_yomi="ー")
    assert compose("{family_name_yomi|romaji}", long_mark) == NotComposed(
        IssueReason.MISSING_ATTRIBUTE, "family_name_yomi|romaji (romaji yields nothing for 'ー')"
    )


def test_an_empty_attribute_is_missing_whatever_its_filters() -> None:
    nobody = DirectoryUser("id-6", family_name_yomi="  ")
    assert compose("{family_name_yomi|romaji}", nobody) == NotComposed(
        IssueReason.MISSING_ATTRIBUTE, "family_name_yomi"
    )


def test_the_rule_asks_the_source_for_the_attributes_not_the_filters() -> None:
    rule = NameRule.parse("custom", "{family_name_yomi|romaji}.{email_local_part|lower}", ".+")
    assert rule.attributes == {"family_name_yomi", "primary_email"}


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{family_name_yomi|kana}", "filter 'kana' is unknown; filters: romaji, romaji(passport)"),
        ("{family_name_yomi|romaji(kunrei)}", "romaji takes no argument or (passport)"),
        ("{family_name|truncate}", "truncate takes a whole number ≥ 1, like truncate(8)"),
        ("{family_name|truncate(0)}", "truncate takes a whole number ≥ 1"),
        ("{family_name|truncate(x)}", "truncate takes a whole number ≥ 1"),
        ("{family_name|truncate(-2)}", "truncate takes a whole number ≥ 1"),
        ("{family_name|lower(2)}", "{family_name|lower(2)}: filter 'lower(2)': lower takes no"),
        ("{family_name|}", "filter '' is unknown"),
        ("{family_name", "the '{' at position 0 is never closed"),
        ("{family_name{given_name}", "the '{' at position 0 is never closed"),
        ("x}{family_name}", "a single '}' at position 1"),
        ("{surname}", "{surname}: {surname} is not one of {primary_email}"),
        ("{}", "{}: {} is not one of"),
        ("{family_name!r}", "{family_name!r} is not one of"),
        ("plain", "uses no attribute"),
    ],
)
def test_a_malformed_template_is_an_error_naming_it(template: str, problem: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(template)
    assert str(caught.value).startswith(f"custom_template {template!r}: ")
    assert problem in str(caught.value)
