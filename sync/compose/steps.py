"""The naming rule's way to one person's name, told step by step for `explain` (SPEC §18).

The name itself is always NameRule.compose's: these steps only say which value the rule read and
what each normalisation made of it, with the same functions compose uses, so the last value told
is the one compose returns (tests/compose/test_name_steps.py holds that)."""

from __future__ import annotations

from sync.compose.normalize import normalize_email, normalize_text
from sync.compose.rules import EMAIL_SOURCES, Composed, NameRule, local_part
from sync.model import DirectoryUser


def name_steps(rule: NameRule, user: DirectoryUser) -> list[str]:
    """What the rule read and each normalisation, ending with compose's verdict."""
    if rule.source == "custom":
        steps = _template_steps(rule, user)
    elif rule.source == "employee_code":
        steps = _text_steps("employee_code", user.employee_code)
    else:
        attribute = (
            "primary_email" if rule.source == "email_local_part" else EMAIL_SOURCES[rule.source]
        )
        steps = _email_steps(rule, attribute, user.attribute(attribute))
    verdict = rule.compose(user)
    if isinstance(verdict, Composed):
        steps.append(f"the name pattern {rule.pattern.pattern!r} allows {verdict.name!r}")
    else:
        steps.append(f"no name: {verdict.reason}: {verdict.detail}")
    return steps


def _said(value: str | None) -> str:
    return "nothing" if value is None else repr(value)


def _text_steps(attribute: str, raw: str | None) -> list[str]:
    steps = [f"rule {attribute!r} reads {attribute} = {_said(raw)}"]
    normal = normalize_text(raw)
    if raw is not None and normal != raw:
        steps.append(f"NFKC and trimmed: {_said(normal)}")
    return steps


def _email_steps(rule: NameRule, attribute: str, raw: str | None) -> list[str]:
    steps = [f"rule {rule.source!r} reads {attribute} = {_said(raw)}"]
    address = normalize_email(raw)
    if raw is not None and address != raw:
        steps.append(f"NFKC, trimmed, domain lower-cased: {_said(address)}")
    if address is None:
        return steps
    if rule.lowercase_email and address != address.lower():
        address = address.lower()
        steps.append(f"lower-cased (lowercase_email_names): {address!r}")
    if rule.source == "email_local_part":
        steps.append(f"the part before the @: {_said(local_part(address))}")
    return steps


def _template_steps(rule: NameRule, user: DirectoryUser) -> list[str]:
    assert rule.template is not None
    steps = [f"rule 'custom' fills the template {rule.template.text!r}"]
    for _, field in rule.template.pieces:
        if field is None:
            continue
        value = rule.template_value(user, field.attribute)
        if field.attribute == "email_local_part":
            raw = user.primary_email
            steps.append(f"{{email_local_part}} from primary_email {_said(raw)}: {_said(value)}")
        else:
            raw = user.attribute(field.attribute)
            shown = (
                f" (NFKC and trimmed: {_said(value)})" if raw is not None and value != raw else ""
            )
            steps.append(f"{{{field.attribute}}} = {_said(raw)}{shown}")
        for step in field.filters:  # each filter as compose applies it (sync.compose.template)
            if value is None:
                break
            value = step.apply(value) or None
            steps.append(f"|{step.spelled}: {_said(value)}")
    return steps
