"""Composition rules and normalisation (SPEC §2, §3), one case per behaviour."""

from __future__ import annotations

import pytest

from sync.compose.normalize import name_key
from sync.compose.rules import Composed, NameRule, NotComposed
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import DirectoryUser, IssueReason


def rule(source: str, template: str | None = None, lowercase: bool = True) -> NameRule:
    return NameRule.parse(source, template, DEFAULT_NAME_PATTERN, lowercase)


def user(**fields: object) -> DirectoryUser:
    return DirectoryUser(source_id="id-1", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "template", "fields", "expected"),
    [
        ("email", None, {"primary_email": "Taro@Example.COM"}, "taro@example.com"),
        ("email", None, {"primary_email": "  taro@example.com \t"}, "taro@example.com"),
        ("email_local_part", None, {"primary_email": "Yamada.Taro@example.com"}, "yamada.taro"),
        # the part before the LAST @ (a quoted local part may hold one)
        ("email_local_part", None, {"primary_email": '"a@b"@example.com'}, None),
        ("employee_code", None, {"employee_code": "ＥＭＰ００１"}, "EMP001"),
        ("employee_code", None, {"employee_code": " emp001 "}, "emp001"),
        (
            "google_workspace_email",
            None,
            {"google_workspace_email": "T@Corp.example"},
            "t@corp.example",
        ),
        ("salesforce_account", None, {"salesforce_account": "taro@acme.sfdc"}, "taro@acme.sfdc"),
        (
            "custom",
            "{family_name}.{given_name}",
            {"family_name": "Yamada", "given_name": "Taro"},
            "Yamada.Taro",
        ),
        ("custom", "e{employee_code}", {"employee_code": "００７"}, "e007"),
        ("custom", "{email_local_part}", {"primary_email": "Hanako@Example.com"}, "Hanako"),
    ],
)
def test_composes(
    source: str, template: str | None, fields: dict[str, str], expected: str | None
) -> None:
    outcome = rule(source, template).compose(user(**fields))
    if expected is None:
        assert isinstance(outcome, NotComposed) and outcome.reason == "invalid_name"
    else:
        assert outcome == Composed(expected)


def test_email_names_keep_case_when_tenant_says_so() -> None:
    outcome = rule("email", lowercase=False).compose(user(primary_email="Taro@Example.COM"))
    assert outcome == Composed("Taro@example.com")  # the domain is lower-cased regardless


@pytest.mark.parametrize(
    ("source", "template", "fields", "missing"),
    [
        ("email", None, {}, "primary_email"),
        ("email", None, {"primary_email": "   "}, "primary_email"),
        ("email_local_part", None, {"primary_email": ""}, "primary_email"),
        ("employee_code", None, {"employee_code": "\u3000"}, "employee_code"),  # ideographic space
        ("google_workspace_email", None, {"primary_email": "a@b.c"}, "google_workspace_email"),
        ("salesforce_account", None, {}, "salesforce_account"),
        ("custom", "{family_name}.{given_name}", {"family_name": "Yamada"}, "given_name"),
    ],
)
def test_missing_attribute_is_named(
    source: str, template: str | None, fields: dict[str, str], missing: str
) -> None:
    assert rule(source, template).compose(user(**fields)) == NotComposed(
        IssueReason("missing_attribute"), missing
    )


@pytest.mark.parametrize(
    "code",
    ["山田", "a b", "x" * 129, "taro\r\nBcc: x@example.net", "tab\there", "a/b", "taro\u200b"],
)
def test_names_outside_the_pattern_are_invalid(code: str) -> None:
    outcome = rule("employee_code").compose(user(employee_code=code))
    assert isinstance(outcome, NotComposed) and outcome.reason == "invalid_name"


def test_a_tenant_pattern_can_allow_more() -> None:
    wide = NameRule.parse("custom", "{family_name}{given_name}", r"\w{1,20}")
    assert wide.compose(user(family_name="山田", given_name="太郎")) == Composed("山田太郎")


def test_rule_says_which_attributes_it_needs() -> None:
    assert rule("email_local_part").attributes == {"primary_email"}
    assert rule("custom", "{family_name}-{email_local_part}").attributes == {
        "family_name",
        "primary_email",
    }
    assert rule("salesforce_account").attributes == {"salesforce_account"}


@pytest.mark.parametrize(
    ("typed", "key"),
    [("ＥＭＰ００１", "emp001"), ("EMP001", "emp001"), ("ｙａｍａｄａ．ｔａｒｏ", "yamada.taro"),
     ("emp001", "emp001"), ("Straße", "strasse")],
)  # fmt: skip
def test_a_name_is_keyed_as_typed_in_any_width_and_case(typed: str, key: str) -> None:
    assert name_key(typed) == key
