"""explain's naming steps (sync.compose.steps): the value each rule read, each normalisation,
and compose's own verdict at the end, for every kind of rule."""

from __future__ import annotations

import pytest

from sync.compose.rules import Composed, NameRule
from sync.compose.steps import name_steps
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import DirectoryUser

PATTERN = repr(DEFAULT_NAME_PATTERN)
USER = DirectoryUser(
    "1",
    primary_email=" Taro.Yamada@Example.COM ",
    employee_code="ＥＭＰ００１",
    given_name="Taro",
    family_name="山田",
)


@pytest.mark.parametrize(
    ("source", "template", "expected"),
    [
        (
            "email_local_part",
            None,
            [
                "rule 'email_local_part' reads primary_email = ' Taro.Yamada@Example.COM '",
                "NFKC, trimmed, domain lower-cased: 'Taro.Yamada@example.com'",
                "lower-cased (lowercase_email_names): 'taro.yamada@example.com'",
                "the part before the @: 'taro.yamada'",
                f"the name pattern {PATTERN} allows 'taro.yamada'",
            ],
        ),
        (
            "employee_code",
            None,
            [
                "rule 'employee_code' reads employee_code = 'ＥＭＰ００１'",
                "NFKC and trimmed: 'EMP001'",
                f"the name pattern {PATTERN} allows 'EMP001'",
            ],
        ),
        (
            "custom",
            "{given_name}.{family_name}",
            [
                "rule 'custom' fills the template '{given_name}.{family_name}'",
                "{given_name} = 'Taro'",
                "{family_name} = '山田'",
                "no name: invalid_name: 'Taro.山田' is not allowed by the name pattern",
            ],
        ),
        (
            "custom",
            "{email_local_part}-{salesforce_account}",
            [
                "rule 'custom' fills the template '{email_local_part}-{salesforce_account}'",
                "{email_local_part} from primary_email ' Taro.Yamada@Example.COM ': 'Taro.Yamada'",
                "{salesforce_account} = nothing",
                "no name: missing_attribute: salesforce_account",
            ],
        ),
    ],
)
def test_each_rule_tells_its_value_and_normalisations(
    source: str, template: str | None, expected: list[str]
) -> None:
    rule = NameRule.parse(source, template, DEFAULT_NAME_PATTERN)
    assert name_steps(rule, USER) == expected


def test_the_last_value_told_is_the_name_compose_gives() -> None:
    for source in ("email", "email_local_part", "employee_code"):
        rule = NameRule.parse(source, None, DEFAULT_NAME_PATTERN)
        composed = rule.compose(USER)
        assert isinstance(composed, Composed)
        assert name_steps(rule, USER)[-1].endswith(f"allows {composed.name!r}")
        assert f"{composed.name!r}" in name_steps(rule, USER)[-2]
